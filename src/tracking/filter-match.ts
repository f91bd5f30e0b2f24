/** Evaluating parsed MLflow filters against runs, and ordering runs (filter.ts holds the grammar). */
import { type Comparator, entityNames, type FilterClause, FilterError, type FilterEntity, type FilterValue, filterAttributes } from './filter';

/** What a filter is evaluated against: one run. */
export interface SearchableRun {
  readonly attributes: Readonly<Record<string, string | number | undefined>>;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
}

function likePattern(pattern: string, insensitive: boolean): RegExp {
  const body = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(`^${body}$`, insensitive ? 'is' : 's');
}

function compareNumbers(a: number, comparator: Comparator, b: number): boolean {
  switch (comparator) {
    case '=': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    default: return false;
  }
}

function compare(actual: string | number, comparator: Comparator, value: FilterValue): boolean {
  if (comparator === 'IN' || comparator === 'NOT IN') {
    const found = (value as (string | number)[]).some((v) => String(v) === String(actual));
    return comparator === 'IN' ? found : !found;
  }
  if (comparator === 'LIKE' || comparator === 'ILIKE') return likePattern(String(value), comparator === 'ILIKE').test(String(actual));
  if (typeof value === 'number') {
    const n = typeof actual === 'number' ? actual : actual.trim() === '' ? NaN : Number(actual);
    if (Number.isNaN(n)) return comparator === '!=' ? String(actual) !== String(value) : false;
    return compareNumbers(n, comparator, value);
  }
  const text = String(actual);
  return comparator === '=' ? text === value : comparator === '!=' ? text !== value : false;
}

function timeValue(value: FilterValue): FilterValue {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? Date.parse(value) : value;
}

/** True when the run meets every clause. */
export function matchesFilter(clauses: readonly FilterClause[], run: SearchableRun): boolean {
  return clauses.every((c) => {
    const source = c.entity === 'attributes' ? run.attributes : run[c.entity];
    const actual = source[c.key];
    if (actual === undefined) return false;
    const value = c.entity === 'attributes' && filterAttributes[c.key] === 'number' ? timeValue(c.value) : c.value;
    return compare(actual, c.comparator, value);
  });
}

export interface OrderBy {
  readonly entity: FilterEntity;
  readonly key: string;
  readonly descending: boolean;
}

/** `metrics.test_accuracy DESC`, `attributes.start_time`, `params.lr ASC`. */
export function parseOrderBy(text: string): OrderBy {
  const m = /^\s*(?:(metrics?|params?|parameters?|tags?|attributes?|attr)\.)?(`[^`]+`|"[^"]+"|[A-Za-z0-9_\-./ ]+?)\s*(?:\s(ASC|DESC))?\s*$/i.exec(text);
  if (!m) throw new FilterError(text, 0, 'expected an order such as "metrics.test_accuracy DESC"');
  const entity = m[1] ? entityNames[m[1].toLowerCase()] : 'attributes';
  const key = m[2].replace(/^[`"]|[`"]$/g, '');
  if (entity === 'attributes' && !filterAttributes[key]) throw new FilterError(text, 0, `unknown attribute "${key}" to order by`);
  return { entity, key, descending: m[3]?.toUpperCase() === 'DESC' };
}

/** Sorts runs by an order: runs without the key go last, as MLflow does. */
export function sortRuns<T extends SearchableRun>(runs: T[], order: OrderBy): T[] {
  const valueOf = (r: T) => (order.entity === 'attributes' ? r.attributes : r[order.entity])[order.key];
  return [...runs].sort((a, b) => {
    const va = valueOf(a);
    const vb = valueOf(b);
    if (va === undefined || vb === undefined) return va === undefined ? (vb === undefined ? 0 : 1) : -1;
    const na = Number(va);
    const nb = Number(vb);
    const cmp = !Number.isNaN(na) && !Number.isNaN(nb) ? na - nb : String(va).localeCompare(String(vb));
    return order.descending ? -cmp : cmp;
  });
}
