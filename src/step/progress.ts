import type { Logger } from 'pino';

/**
 * A step's `ctx.progress` travels as log lines: the step writes one (at most
 * every 250 ms), the driver's log sink turns it back into progress events.
 */

/** The field a step's progress line carries, so the driver turns it into `ctx.progress` instead of a log line. */
export const progressField = 'dagwrightProgress';

/** A step's `ctx.progress`: one log line at most every 250 ms (and the last one), which the driver turns back into progress events. */
export function stepProgress(logger: Logger, everyMs = 250): (done: number, total: number, note?: string) => void {
  let last = 0;
  return (done, total, note) => {
    const now = Date.now();
    if (now - last < everyMs && done < total) return;
    last = now;
    logger.info({ [progressField]: { done, total, ...(note === undefined ? {} : { note }) } }, 'progress');
  };
}

/** The progress a step's log record reports, if it is a progress line. */
export function progressOf(record: Record<string, unknown>): { done: number; total: number; note?: string } | undefined {
  const p = record[progressField] as { done?: unknown; total?: unknown; note?: unknown } | undefined;
  if (!p || typeof p.done !== 'number' || typeof p.total !== 'number') return undefined;
  return { done: p.done, total: p.total, ...(typeof p.note === 'string' ? { note: p.note } : {}) };
}
