import type { RunSummary } from './run';
import type { TaskRecord, TaskStatus } from './scheduler/index';

const order: readonly TaskStatus[] = ['failed', 'missing', 'blocked', 'cancelled', 'ran', 'complete'];
const headings: Record<TaskStatus, string> = {
  failed: 'failed',
  missing: 'missing external data',
  blocked: 'blocked by a failure',
  cancelled: 'cancelled',
  ran: 'ran',
  complete: 'already complete',
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function line(record: TaskRecord): string {
  switch (record.status) {
    case 'failed':
      return `${record.id} after ${record.attempts} attempt(s), ${seconds(record.durationMs)}: ${record.error}`;
    case 'missing':
      return `${record.error}`;
    case 'blocked':
      return `${record.id} (requires ${record.blockedBy})`;
    case 'ran':
      return `${record.id} ${seconds(record.durationMs)}${record.attempts > 1 ? ` (${record.attempts} attempts)` : ''}`;
    default:
      return record.id;
  }
}

/** Counts per status, e.g. "3 ran, 1 already complete, 1 failed". */
export function countStatuses(summary: RunSummary): Record<TaskStatus, number> {
  const counts: Record<TaskStatus, number> = { ran: 0, complete: 0, failed: 0, blocked: 0, cancelled: 0, missing: 0 };
  for (const t of summary.tasks) counts[t.status]++;
  return counts;
}

/** The execution summary for people: each task by status, long lists cut at `perStatus`. */
export function formatSummary(summary: RunSummary, perStatus = 20): string {
  const counts = countStatuses(summary);
  const totals = order.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${headings[s]}`);
  const verdict = summary.cancelled ? 'cancelled' : summary.ok ? 'succeeded' : 'failed';
  const out = [`===== dagwright run ${summary.runId} ${verdict} in ${seconds(summary.durationMs)}: ${totals.join(', ') || 'nothing to do'} =====`];
  for (const status of order) {
    const records = summary.tasks.filter((t) => t.status === status);
    if (records.length === 0) continue;
    out.push(`${headings[status]} (${records.length}):`);
    for (const r of records.slice(0, perStatus)) out.push(`  ${line(r)}`);
    if (records.length > perStatus) out.push(`  ... and ${records.length - perStatus} more`);
  }
  return `${out.join('\n')}\n`;
}
