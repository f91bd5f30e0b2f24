import { UsageError } from '../../src/errors';
import { RunHistory } from '../../src/history/run-history';
import { parseFilter } from '../../src/tracking/filter';
import { parseOrderBy } from '../../src/tracking/filter-match';
import { readTrackedRuns, searchRuns, type TrackedRun } from '../../src/tracking/run-search';
import { type CommandIo, commandStore, parseCommandArgs, storeOption } from './command';

export const compareUsage = `usage:
  dagwright runs compare <runId> <runId> ... [--store <folder|s3://...>] [--json]
      parameters, tracked metrics (latest value) and tags side by side; "*" marks what differs
  dagwright runs search "<filter>" [--order-by "metrics.x DESC"] [--limit <n>] [--store ...] [--json]
      runs matching an MLflow filter, e.g. "metrics.test_accuracy > 0.98 and params.epochs = 5"
      (metrics., params., tags., attributes.status|flow|host|run_id|start_time|end_time|duration;
       = != < <= > >= for numbers, = != LIKE ILIKE IN for strings; clauses joined by AND)
`;

function cell(value: string | number | undefined): string {
  if (value === undefined) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  return value.length > 40 ? `${value.slice(0, 37)}...` : value;
}

/** Rows of one section: a key per row, a column per run, "*" where the runs differ. */
function section(title: string, runs: readonly TrackedRun[], values: (r: TrackedRun) => Readonly<Record<string, string | number>>): string[][] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(values(r))))].sort();
  if (keys.length === 0) return [];
  const rows = keys.map((k) => {
    const cells = runs.map((r) => cell(values(r)[k]));
    const differs = new Set(runs.map((r) => String(values(r)[k]))).size > 1;
    return [`${differs ? '*' : ' '} ${k}`, ...cells];
  });
  return [[`${title}:`, ...runs.map(() => '')], ...rows];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return `${rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')}\n`;
}

/** `runs compare`: the runs side by side. */
export function formatComparison(runs: readonly TrackedRun[]): string {
  const header = ['', ...runs.map((r) => r.record.runId)];
  const attrs = [
    ['  flow', ...runs.map((r) => r.record.flow)],
    ['  status', ...runs.map((r) => String(r.attributes.status))],
    ['  duration', ...runs.map((r) => (r.record.durationMs === undefined ? '-' : `${(r.record.durationMs / 1000).toFixed(1)} s`))],
  ];
  const rows = [header, ...attrs, ...section('params', runs, (r) => r.params), ...section('metrics', runs, (r) => r.metrics), ...section('tags', runs, (r) => r.tags)];
  return table(rows);
}

/** `runs search`: one line per matching run, with the metrics the filter or order names. */
export function formatSearch(runs: readonly TrackedRun[], metricKeys: readonly string[]): string {
  if (runs.length === 0) return 'no run matches\n';
  const header = ['RUN ID', 'FLOW', 'STATUS', 'STARTED', ...metricKeys];
  const rows = runs.map((r) => [r.record.runId, r.record.flow, String(r.attributes.status), r.record.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), ...metricKeys.map((k) => cell(r.metrics[k]))]);
  return table([header, ...rows]);
}

function jsonOf(r: TrackedRun): object {
  return { runId: r.record.runId, flow: r.record.flow, status: r.attributes.status, startedAt: r.record.startedAt, durationMs: r.record.durationMs, params: r.params, metrics: r.metrics, tags: r.tags };
}

/** `dagwright runs compare ...` and `dagwright runs search ...`; returns the exit code. */
export async function runsCompareCommand(sub: 'compare' | 'search', argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...storeOption, limit: { type: 'string' }, json: { type: 'boolean' }, 'order-by': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    compareUsage,
  );
  if (values.help) {
    io.out(compareUsage);
    return 0;
  }
  const store = commandStore(values.store as string | undefined);
  if (sub === 'compare') {
    if (positionals.length < 2) throw new UsageError(`runs compare takes two or more run ids, got ${positionals.length}.\n${compareUsage}`);
    const bad = positionals.find((id) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id));
    if (bad !== undefined) throw new UsageError(`"${bad}" is not a run id; "dagwright runs list" shows them.`);
    const runs = await readTrackedRuns(store, positionals);
    const missing = positionals.filter((id) => !runs.some((r) => r.record.runId === id));
    if (missing.length > 0) throw new UsageError(`no run ${missing.join(', ')} in ${RunHistory.forStore(store).dir}; "dagwright runs list" shows the recorded runs.`);
    io.out(values.json ? `${JSON.stringify(runs.map(jsonOf), null, 2)}\n` : formatComparison(runs));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`runs search takes one filter (quote it), got ${positionals.length} arguments.\n${compareUsage}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit got "${values.limit}"; expected an integer >= 1.`);
  const clauses = parseFilter(positionals[0]);
  const orderBy = typeof values['order-by'] === 'string' ? parseOrderBy(values['order-by']) : undefined;
  const runs = await searchRuns(store, clauses, { limit, ...(orderBy ? { orderBy } : {}) });
  const metricKeys = [...new Set([...clauses.filter((c) => c.entity === 'metrics').map((c) => c.key), ...(orderBy?.entity === 'metrics' ? [orderBy.key] : [])])];
  io.out(values.json ? `${JSON.stringify(runs.map(jsonOf), null, 2)}\n` : formatSearch(runs, metricKeys));
  return 0;
}
