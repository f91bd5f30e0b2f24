import { UsageError } from '../../src/errors';
import { RunHistory } from '../../src/history/run-history';
import { effectiveStatus, type RunRecord, type ShownRunStatus, type TaskHistory } from '../../src/history/run-record';
import type { TaskStatus } from '../../src/scheduler';
import { type CommandIo, commandStore, parseCommandArgs, storeOption } from './command';
import { runsCompareCommand } from './runs-compare';

export const runsUsage = `usage:
  dagwright runs list [--store <folder>] [--limit <n>] [--json]   recent runs, newest first (default limit 20)
  dagwright runs show <runId | latest> [--store <folder>] [--json] one run: its summary, failures and task events
  dagwright runs compare <runId> <runId> ...                      tracked params and metrics side by side
  dagwright runs search "<MLflow filter>"                         runs matching e.g. "metrics.test_accuracy > 0.98"

--store defaults to ./data, as for flow scripts. A run still marked running whose
process is gone (dead pid on this host, or no update for 10 minutes) shows as "unfinished".
`;

export type { CommandIo };

function seconds(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function paramText(params: RunRecord['params']): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

const taskOrder: readonly (TaskStatus | 'running')[] = ['failed', 'missing', 'blocked', 'cancelled', 'running', 'ran', 'complete'];
const taskHeadings: Record<TaskStatus | 'running', string> = {
  failed: 'failed',
  missing: 'missing external data',
  blocked: 'blocked by a failure',
  cancelled: 'cancelled',
  running: 'running',
  ran: 'ran',
  complete: 'already complete',
};

function countText(record: RunRecord): string {
  const counts = new Map<string, number>();
  for (const t of record.tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const parts = taskOrder.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`);
  return parts.join(', ') || '-';
}

/** `runs list`: one line per run. */
export function formatRunList(records: readonly RunRecord[], now = Date.now()): string {
  if (records.length === 0) return 'no runs recorded in this store\n';
  const rows = records.map((r) => [r.runId, r.flow, effectiveStatus(r, now), shortTime(r.startedAt), seconds(r.durationMs), countText(r)]);
  const header = ['RUN ID', 'FLOW', 'STATUS', 'STARTED', 'DURATION', 'TASKS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function taskLine(t: TaskHistory): string {
  switch (t.status) {
    case 'failed':
      return `${t.id} after ${t.attempts} attempt(s), ${seconds(t.durationMs)}: ${t.error ?? 'no error recorded'}`;
    case 'blocked':
      return `${t.id} (requires ${t.blockedBy})`;
    case 'running':
      return `${t.id} (attempt ${t.attempts}${t.startedAt ? `, started ${shortTime(t.startedAt)}` : ''}${t.error ? `; last error: ${t.error}` : ''})`;
    case 'ran':
      return `${t.id} ${seconds(t.durationMs)}${t.attempts > 1 ? ` (${t.attempts} attempts)` : ''}${t.completedElsewhere ? ' (completed by another run while this one waited)' : ''}${t.executor ? ` [${t.executor}]` : ''}`;
    default:
      return t.id;
  }
}

/** `runs show`: the run's summary, then its tasks by status, failures first and in full. */
export function formatRun(record: RunRecord, now = Date.now(), perStatus = 20): string {
  const status: ShownRunStatus = effectiveStatus(record, now);
  const out = [
    `run ${record.runId}: flow ${record.flow}, ${status}`,
    `  started  ${shortTime(record.startedAt)} on ${record.host}, pid ${record.pid}`,
    record.endedAt
      ? `  ended    ${shortTime(record.endedAt)} after ${seconds(record.durationMs)}`
      : `  last update ${shortTime(record.updatedAt)}${status === 'unfinished' ? ' (the process is gone: killed or crashed)' : ''}`,
    `  params   ${paramText(record.params) || '(none)'}`,
    `  store    ${record.store}`,
    `  tasks    ${countText(record)}`,
  ];
  if (record.error) out.push(`  error    ${record.error}`);
  for (const s of taskOrder) {
    const tasks = record.tasks.filter((t) => t.status === s);
    if (tasks.length === 0) continue;
    const shown = s === 'failed' ? tasks : tasks.slice(0, perStatus);
    out.push(`${s === 'running' && status === 'unfinished' ? 'running when the run stopped' : taskHeadings[s]} (${tasks.length}):`);
    for (const t of shown) out.push(`  ${taskLine(t)}`);
    if (shown.length < tasks.length) out.push(`  ... and ${tasks.length - shown.length} more (--json lists all)`);
  }
  out.push(...eventLines(record, perStatus * 5));
  return `${out.join('\n')}\n`;
}

/** A payload on one line, cut so one large event cannot flood the terminal. */
function payloadText(payload: unknown): string {
  if (payload === null) return '';
  const text = JSON.stringify(payload);
  return ` ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`;
}

/** The task events the run sent (`ctx.emit`, the dependency events), the first `limit` of them. */
function eventLines(record: RunRecord, limit: number): string[] {
  const events = record.events ?? [];
  if (events.length === 0) return [];
  const total = events.length + (record.eventsDropped ?? 0);
  const shown = events.slice(0, limit);
  const lines = [`events (${total}):`, ...shown.map((e) => `  ${shortTime(e.at)}  ${e.name}  ${e.taskId}${payloadText(e.payload)}`)];
  if (shown.length < total) lines.push(`  ... and ${total - shown.length} more (${shown.length < events.length ? '--json lists ' + events.length : 'the record keeps the first ' + events.length})`);
  return lines;
}

/** `dagwright runs ...`; returns the exit code. */
export async function runsCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'compare' || sub === 'search') return runsCompareCommand(sub, rest, io);
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(runsUsage);
    return sub === undefined ? 2 : 0;
  }
  const parsed = parseCommandArgs(rest, { ...storeOption, limit: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, runsUsage);
  const values = parsed.values as { store?: string; limit?: string; json?: boolean; help?: boolean };
  const positionals = parsed.positionals;
  if (values.help) {
    io.out(runsUsage);
    return 0;
  }
  const history = RunHistory.forStore(commandStore(values.store));
  const now = Date.now();
  if (sub === 'list') {
    if (positionals.length > 0) throw new UsageError(`runs list takes no arguments, got "${positionals.join(' ')}".`);
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit got "${values.limit}"; expected an integer >= 1.`);
    const records = await history.list(limit);
    io.out(values.json ? `${JSON.stringify(records.map((r) => ({ ...r, shownStatus: effectiveStatus(r, now) })), null, 2)}\n` : formatRunList(records, now));
    return 0;
  }
  if (sub === 'show') {
    if (positionals.length !== 1) throw new UsageError(`runs show takes one run id (or "latest"), got ${positionals.length}.\n${runsUsage}`);
    let runId = positionals[0];
    if (runId === 'latest') {
      const newest = (await history.runIds())[0];
      if (newest === undefined) throw new UsageError(`no runs recorded in ${history.dir}.`);
      runId = newest;
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(runId)) throw new UsageError(`"${runId}" is not a run id; "dagwright runs list" shows them.`);
    const record = await history.read(runId);
    if (record === undefined) throw new UsageError(`no run ${runId} in ${history.dir}; "dagwright runs list" shows the recorded runs.`);
    io.out(values.json ? `${JSON.stringify({ ...record, shownStatus: effectiveStatus(record, now) }, null, 2)}\n` : formatRun(record, now));
    return 0;
  }
  throw new UsageError(`unknown command "runs ${sub}".\n${runsUsage}`);
}
