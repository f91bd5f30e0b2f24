import pLimit from 'p-limit';
import { effectiveStatus, type RunRecord } from '../../src/history/run-record';
import { readRunTracking } from '../../src/tracking/read-tracking';
import type { RunIndex } from './run-index';

/** One row of the runs table: what the list shows, sorts and filters on, without the run's metric curves. */
export interface RunRow {
  readonly record: RunRecord;
  readonly name: string;
  /** Nothing ran: every task was already complete (a re-run that found the work done). */
  readonly noop: boolean;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
}

/** Above this many runs the list answers from the previous listing while relisting in the background. */
const staleAbove = 5000;

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Parameters that name a place, not a choice: left out of a run's generated name. */
const placeParams = /^(store|root|out|output|dir|path|data|cache)/i;

/**
 * A run's name: the one it was given (`--run-name`, kept in the record or as
 * the `mlflow.runName` tag), else its flow and up to three short parameters.
 */
export function runName(record: RunRecord, tags: Readonly<Record<string, string>>): string {
  const given = (record as { runName?: unknown; name?: unknown }).runName ?? (record as { name?: unknown }).name ?? tags['mlflow.runName'] ?? tags.run_name;
  if (typeof given === 'string' && given !== '') return given;
  const keys = Object.entries(record.params)
    .filter(([k, v]) => !placeParams.test(k) && String(v).length <= 24 && !String(v).includes('/'))
    .slice(0, 3)
    .map(([k, v]) => `${k}=${String(v)}`);
  return [record.flow, ...keys].join(' ');
}

export function isNoop(record: RunRecord): boolean {
  return record.status === 'succeeded' && record.tasks.every((t) => t.status === 'complete');
}

/** A sort: a column (`start`, `name`, `status`, `flow`, `duration`, `params.<k>`, `metrics.<k>`, `tags.<k>`) and a direction. */
export interface RowOrder {
  readonly column: string;
  readonly descending: boolean;
}

export function valueOf(row: RunRow, column: string, now: number): string | number | undefined {
  const dot = column.indexOf('.');
  if (dot > 0) {
    const kind = column.slice(0, dot);
    const key = column.slice(dot + 1);
    if (kind === 'metrics') return row.metrics[key];
    if (kind === 'params') return row.params[key];
    if (kind === 'tags') return row.tags[key];
    return undefined;
  }
  switch (column) {
    case 'name': return row.name;
    case 'status': return effectiveStatus(row.record, now);
    case 'flow': return row.record.flow;
    case 'duration': return row.record.durationMs;
    case 'tasks': return row.record.tasks.length;
    default: return row.record.startedAt;
  }
}

/** Sorted copy: rows without the column last (as MLflow), numbers as numbers, ties by newest first. */
export function sortRows(rows: readonly RunRow[], order: RowOrder, now: number): RunRow[] {
  const keyed = rows.map((row) => {
    const v = valueOf(row, order.column, now);
    const n = typeof v === 'number' ? v : v !== undefined && v.trim() !== '' && order.column.startsWith('params.') ? Number(v) : NaN;
    return { row, v, n };
  });
  const sign = order.descending ? -1 : 1;
  keyed.sort((a, b) => {
    if (a.v === undefined || b.v === undefined) return a.v === undefined ? (b.v === undefined ? 0 : 1) : -1;
    const cmp = !Number.isNaN(a.n) && !Number.isNaN(b.n) ? a.n - b.n : String(a.v) < String(b.v) ? -1 : String(a.v) > String(b.v) ? 1 : 0;
    return cmp === 0 ? (a.row.record.runId < b.row.record.runId ? 1 : -1) : sign * cmp;
  });
  return keyed.map((k) => k.row);
}

/**
 * Every run as a table row, kept in memory once the run finished (a finished
 * run never changes): a 100,000-run store is read once, after which a page
 * sorted by any column is a sort of rows already in memory. The sorted order
 * of the current listing is kept too, so paging through it sorts once.
 */
export class RunTable {
  private readonly rows = new Map<string, RunRow>();
  private readonly limit = pLimit(32);
  /** Orders of the current listing already sorted (a few: asc and desc of the columns in use). */
  private sorted: { ids: readonly string[]; orders: Map<string, RunRow[]> } | undefined;

  constructor(private readonly index: RunIndex) {}

  private async row(id: string): Promise<RunRow | undefined> {
    const cached = this.rows.get(id);
    if (cached) return cached;
    const record = await this.index.record(id);
    if (!record) return undefined;
    const tracked = await readRunTracking(this.index.store, id).catch(() => undefined);
    const tags = tracked?.tags ?? {};
    const params = { ...Object.fromEntries(Object.entries(record.params).map(([k, v]) => [k, String(v)])), ...tracked?.params };
    const row: RunRow = { record, name: runName(record, tags), noop: isNoop(record), params, tags, metrics: tracked?.metrics ?? {} };
    if (effectiveStatus(record) !== 'running') this.rows.set(id, row);
    return row;
  }

  private listing: { ids: readonly string[]; at: number } | undefined;
  private relisting: Promise<void> | undefined;
  private listMs = 0;
  private last: { ids: readonly string[]; rows: RunRow[] } | undefined;

  /**
   * The run ids, newest first. A large store (more than `staleAbove` runs) is
   * answered from its previous listing while a new one is read in the
   * background (listing 100,000 records takes longer than sorting them); a
   * new run shows within a second, or ten times the last listing's time.
   */
  private async ids(): Promise<readonly string[]> {
    const now = Date.now();
    if (!this.listing || this.listing.ids.length <= staleAbove) {
      const ids = await this.index.ids();
      this.listing = { ids, at: now };
      return ids;
    }
    // Relisting 100,000 records takes the event loop for a while: at most a tenth of the time is spent on it.
    if (now - this.listing.at > Math.max(1000, 10 * this.listMs) && !this.relisting) {
      const started = Date.now();
      this.relisting = this.index.ids().then(
        (ids) => {
          this.listMs = Date.now() - started;
          this.listing = { ids, at: Date.now() };
        },
        () => undefined,
      ).finally(() => (this.relisting = undefined));
    }
    return this.listing.ids;
  }

  /** Rows of the listed runs, newest first; the same listing (every run finished) gives the same rows. */
  async all(): Promise<{ ids: readonly string[]; rows: RunRow[] }> {
    const listed = await this.ids();
    const last = this.last;
    if (last && (last.ids === listed || sameIds(last.ids, listed))) return last;
    const ids = listed;
    const rows: (RunRow | undefined)[] = new Array(ids.length);
    const missing: Promise<void>[] = [];
    for (let i = 0; i < ids.length; i++) {
      const cached = this.rows.get(ids[i]);
      if (cached) rows[i] = cached;
      else missing.push(this.limit(async () => void (rows[i] = await this.row(ids[i]))));
    }
    await Promise.all(missing);
    const result = { ids, rows: rows.filter((r): r is RunRow => r !== undefined) };
    // Kept only when no row can change (none running): then the next request with the same listing reuses it.
    this.last = result.rows.every((r) => this.rows.has(r.record.runId)) ? result : undefined;
    return result;
  }

  private keys: { rows: readonly RunRow[]; keys: string[] } | undefined;

  /** Every `params.<k>`, `metrics.<k>` and `tags.<k>` the listed runs have: the columns one can add (once per listing). */
  async columnKeys(): Promise<string[]> {
    const { rows } = await this.all();
    if (this.keys?.rows === rows) return this.keys.keys;
    const seen = new Set<string>();
    for (const r of rows) {
      for (const k in r.params) seen.add(`params.${k}`);
      for (const k in r.metrics) seen.add(`metrics.${k}`);
      for (const k in r.tags) seen.add(`tags.${k}`);
    }
    const keys = [...seen].sort();
    this.keys = { rows, keys };
    return keys;
  }

  /** All rows in an order; the result for one listing and order is reused (every run finished, none changing). */
  async sortedBy(order: RowOrder, now: number): Promise<RunRow[]> {
    const { ids, rows } = await this.all();
    const key = `${order.column}\0${order.descending}`;
    const known = this.sorted?.ids === ids ? this.sorted.orders.get(key) : undefined;
    if (known) return known;
    const result = order.column === 'start' && order.descending ? rows : sortRows(rows, order, now);
    if (this.last?.ids === ids) {
      if (this.sorted?.ids !== ids || this.sorted.orders.size >= 8) this.sorted = { ids, orders: new Map() };
      this.sorted.orders.set(key, result);
    }
    return result;
  }
}
