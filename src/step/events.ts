import type { Logger } from 'pino';
import { checkedPayload, type JsonValue } from '../task-events';

/**
 * A step's `ctx.emit` travels as a log line, as progress does (progress.ts):
 * the step checks the event and writes one line, the driver's log sink turns
 * it back into the attempt's `ctx.emit`. Every event is sent (none dropped).
 */

/** The field a step's event line carries, so the driver turns it into `ctx.emit` instead of a log line. */
export const eventField = 'dagwrightEvent';

/** A step's `ctx.emit`: checked here, so a bad event fails the step where it was sent. */
export function stepEmit(logger: Logger, taskId: string): (name: string, payload?: JsonValue) => void {
  return (name, payload) => {
    const checked = checkedPayload(taskId, name, payload);
    logger.info({ [eventField]: { name, payload: checked } }, `event ${name}`);
  };
}

/** The event a step's log record carries, if it is an event line. */
export function eventOf(record: Record<string, unknown>): { name: string; payload: JsonValue } | undefined {
  const e = record[eventField] as { name?: unknown; payload?: unknown } | undefined;
  if (!e || typeof e.name !== 'string') return undefined;
  return { name: e.name, payload: (e.payload ?? null) as JsonValue };
}
