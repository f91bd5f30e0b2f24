/**
 * MLflow's search filter grammar over runs
 * (https://mlflow.org/docs/latest/search-runs.html):
 *
 *   metrics.test_accuracy > 0.98 and params.epochs = 5 and tags.stage LIKE 'prod%'
 *
 * Clauses joined by AND (MLflow has no OR). An entity is `metrics.`, `params.`,
 * `tags.` or `attributes.` (`metric`, `param`, `tag`, `attribute`, `attr` too;
 * a bare name is an attribute); a key with other characters is quoted with
 * backticks or double quotes. Comparators: = != < <= > >= for numbers; = !=
 * LIKE ILIKE IN, NOT IN for strings. A clause on a key a run does not have is
 * false for that run, as in MLflow. Unlike MLflow, `params.epochs = 5` may
 * leave the number unquoted, and params compare as numbers with < <= > >=
 * when both sides are numbers.
 */
import { UsageError } from '../errors';

export type FilterEntity = 'metrics' | 'params' | 'tags' | 'attributes';
export type Comparator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';
export type FilterValue = string | number | readonly (string | number)[];

export interface FilterClause {
  readonly entity: FilterEntity;
  readonly key: string;
  readonly comparator: Comparator;
  readonly value: FilterValue;
}

/** A search filter or order-by that does not parse; says where and what was expected. Exit code 2. */
export class FilterError extends UsageError {
  constructor(
    readonly filter: string,
    readonly position: number,
    problem: string,
  ) {
    super(`search filter: ${problem} at character ${position + 1} of "${filter}". Example: metrics.test_accuracy > 0.98 and params.epochs = 5`);
  }
}

/** The run attributes a filter can name, and whether they compare as numbers. */
export const filterAttributes: Readonly<Record<string, 'string' | 'number'>> = {
  run_id: 'string',
  status: 'string',
  flow: 'string',
  run_name: 'string',
  host: 'string',
  start_time: 'number',
  end_time: 'number',
  duration: 'number',
};

export const entityNames: Readonly<Record<string, FilterEntity>> = {
  metrics: 'metrics', metric: 'metrics',
  params: 'params', param: 'params', parameters: 'params', parameter: 'params',
  tags: 'tags', tag: 'tags',
  attributes: 'attributes', attribute: 'attributes', attr: 'attributes', run: 'attributes',
};

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'op'; text: string; at: number }
  | { kind: 'punct'; text: '(' | ')' | ',' | '.'; at: number }
  | { kind: 'quoted'; text: string; at: number };

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i];
    if (/\s/.test(c)) { i++; continue; }
    const at = i;
    if (c === "'" || c === '"' || c === '`') {
      const end = filter.indexOf(c, i + 1);
      if (end < 0) throw new FilterError(filter, at, `unterminated ${c === '`' ? 'backtick' : 'string'}`);
      const text = filter.slice(i + 1, end);
      // After "entity." a quoted word is a key; elsewhere a single- or double-quoted one is a value.
      const afterDot = tokens.at(-1)?.kind === 'punct' && (tokens.at(-1) as { text: string }).text === '.';
      tokens.push(c === '`' || afterDot ? { kind: 'quoted', text, at } : { kind: 'string', text, at });
      i = end + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9.]/.test(filter[i + 1] ?? '')) || (c === '.' && /[0-9]/.test(filter[i + 1] ?? '') && tokens.at(-1)?.kind === 'op')) {
      const m = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(filter.slice(i))!;
      tokens.push({ kind: 'number', value: Number(m[0]), at });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_\-/]*/.exec(filter.slice(i))!;
      tokens.push({ kind: 'word', text: m[0], at });
      i += m[0].length;
    } else if (/[<>!=]/.test(c)) {
      const m = /^(<=|>=|!=|<>|==|=|<|>)/.exec(filter.slice(i));
      if (!m) throw new FilterError(filter, at, `"${c}" is not a comparator`);
      tokens.push({ kind: 'op', text: m[0] === '==' ? '=' : m[0] === '<>' ? '!=' : m[0], at });
      i += m[0].length;
    } else if (c === '(' || c === ')' || c === ',' || c === '.') {
      tokens.push({ kind: 'punct', text: c, at });
      i++;
    } else {
      throw new FilterError(filter, at, `unexpected "${c}"`);
    }
  }
  return tokens;
}

class Parser {
  private i = 0;
  constructor(
    private readonly filter: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private fail(problem: string, token = this.peek()): never {
    throw new FilterError(this.filter, token?.at ?? this.filter.length, problem);
  }

  private isWord(word: string, token = this.peek()): boolean {
    return token?.kind === 'word' && token.text.toUpperCase() === word;
  }

  clauses(): FilterClause[] {
    const out: FilterClause[] = [];
    if (this.tokens.length === 0) return out;
    for (;;) {
      out.push(this.clause());
      if (this.i >= this.tokens.length) return out;
      if (this.isWord('OR')) this.fail('OR is not supported (MLflow filters join clauses with AND only)');
      if (!this.isWord('AND')) this.fail('expected AND between clauses');
      this.i++;
    }
  }

  /** `entity.key`: a word with a dot, or `entity.` then a quoted key. */
  private identifier(): { entity: FilterEntity; key: string } {
    const first = this.peek();
    if (first?.kind === 'quoted') {
      this.i++;
      return { entity: 'attributes', key: first.text };
    }
    if (first?.kind !== 'word') this.fail('expected a name such as metrics.accuracy, params.epochs, tags.stage or attributes.status');
    this.i++;
    const dot = this.peek();
    if (dot?.kind === 'punct' && dot.text === '.') {
      const entity = entityNames[first.text.toLowerCase()];
      if (!entity) this.fail(`"${first.text}" is not metrics, params, tags or attributes`, first);
      this.i++;
      const key = this.peek();
      if (key?.kind !== 'word' && key?.kind !== 'quoted') this.fail(`expected a key after "${first.text}."`);
      this.i++;
      // Keys may hold dots: read word.word... up to the comparator.
      let text = key.text;
      while (key.kind === 'word' && this.peek()?.kind === 'punct' && (this.peek() as { text: string }).text === '.' && this.tokens[this.i + 1]?.kind === 'word') {
        text += `.${(this.tokens[this.i + 1] as { text: string }).text}`;
        this.i += 2;
      }
      return { entity, key: text };
    }
    return { entity: 'attributes', key: first.text };
  }

  private comparator(): Comparator {
    const t = this.peek();
    if (t?.kind === 'op') {
      this.i++;
      return t.text as Comparator;
    }
    for (const word of ['LIKE', 'ILIKE', 'IN'] as const) {
      if (this.isWord(word)) {
        this.i++;
        return word;
      }
    }
    if (this.isWord('NOT') && this.isWord('IN', this.tokens[this.i + 1])) {
      this.i += 2;
      return 'NOT IN';
    }
    this.fail('expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)');
  }

  private scalar(): string | number {
    const t = this.peek();
    if (t?.kind === 'number') {
      this.i++;
      return t.value;
    }
    if (t?.kind === 'string') {
      this.i++;
      return t.text;
    }
    this.fail(t?.kind === 'word' ? `expected a value; quote strings ('${t.text}')` : 'expected a value (a number or a quoted string)');
  }

  private list(): (string | number)[] {
    const open = this.peek();
    if (open?.kind !== 'punct' || open.text !== '(') this.fail("expected a list in parentheses, e.g. ('a', 'b')");
    this.i++;
    const values = [this.scalar()];
    while (this.peek()?.kind === 'punct' && (this.peek() as { text: string }).text === ',') {
      this.i++;
      values.push(this.scalar());
    }
    const close = this.peek();
    if (close?.kind !== 'punct' || close.text !== ')') this.fail('expected ")" to end the list');
    this.i++;
    return values;
  }

  private clause(): FilterClause {
    const start = this.peek();
    const { entity, key } = this.identifier();
    const opToken = this.peek();
    const comparator = this.comparator();
    const value = comparator === 'IN' || comparator === 'NOT IN' ? this.list() : this.scalar();
    return checkClause(this.filter, { entity, key, comparator, value }, start?.at ?? 0, opToken?.at ?? 0);
  }
}

const numeric = new Set<Comparator>(['=', '!=', '<', '<=', '>', '>=']);
const textual = new Set<Comparator>(['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN']);

function checkClause(filter: string, clause: FilterClause, at: number, opAt: number): FilterClause {
  const { entity, key, comparator, value } = clause;
  if (entity === 'metrics') {
    if (!numeric.has(comparator)) throw new FilterError(filter, opAt, `metrics compare as numbers: ${comparator} is not allowed for metrics.${key}`);
    if (typeof value !== 'number') throw new FilterError(filter, opAt, `metrics.${key} must be compared with a number`);
  }
  if (entity === 'attributes') {
    const kind = filterAttributes[key];
    if (!kind) throw new FilterError(filter, at, `unknown attribute "${key}" (known: ${Object.keys(filterAttributes).join(', ')}; use params.${key}, metrics.${key} or tags.${key} for tracked values)`);
    if (kind === 'string' && !textual.has(comparator)) throw new FilterError(filter, opAt, `attributes.${key} is a string: use =, !=, LIKE, ILIKE, IN or NOT IN`);
    if (kind === 'number' && !numeric.has(comparator)) throw new FilterError(filter, opAt, `attributes.${key} is a time or duration: use =, !=, <, <=, > or >=`);
  }
  if ((entity === 'params' || entity === 'tags') && !textual.has(comparator) && typeof value !== 'number') {
    throw new FilterError(filter, opAt, `${entity}.${key} ${comparator} needs a number; strings compare with =, !=, LIKE, ILIKE, IN`);
  }
  if ((comparator === 'LIKE' || comparator === 'ILIKE') && typeof value !== 'string') throw new FilterError(filter, opAt, `${comparator} needs a quoted pattern such as '%mnist%'`);
  return clause;
}

/** Parses a filter; the empty string is no clause (every run matches). Throws a FilterError. */
export function parseFilter(filter: string): FilterClause[] {
  return new Parser(filter, tokenize(filter)).clauses();
}
