import { TaskEventError } from './errors';

/** A value that survives `JSON.stringify` and `JSON.parse` unchanged: what events carry and `run()` may return. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Event names: letters, digits and `_ . : -`, at most 100 characters (`model:trained`). */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/** The largest payload one event carries, as JSON; larger data belongs in an output target. */
export const maxEventPayloadBytes = 16 * 1024;

/**
 * The scheduler's own events (Luigi's DEPENDENCY_DISCOVERED / MISSING /
 * PRESENT), sent as task events with attempt 0. Tasks cannot send these names.
 */
export const dependencyEvents = {
  /** A running task asked for a requirement with `ctx.require()`; payload `{ dependency }`. */
  discovered: 'dependency:discovered',
  /** An `ExternalTask`'s data is not there; payload `{ missing }` (its missing outputs). */
  missing: 'dependency:missing',
  /** Planning found the task complete, so it will not run; payload null. */
  present: 'dependency:present',
} as const;

const reservedPrefix = 'dependency:';

/** One event as a subscriber and run history see it. */
export interface TaskEvent {
  readonly name: string;
  /** The task that sent it (for the dependency events: the task they are about). */
  readonly taskId: string;
  /** The attempt that sent it; 0 for the scheduler's own events. */
  readonly attempt: number;
  readonly payload: JsonValue;
}

/** Subscribers by event name (`{ 'model:trained': (payload, event) => ... }`); `'*'` gets every event. */
export type TaskEventHandlers = Readonly<Record<string, (payload: JsonValue, event: TaskEvent) => void>>;

/**
 * The payload as it will arrive (a JSON copy), checked: the name is valid
 * and not reserved, the payload is JSON and within `maxEventPayloadBytes`.
 * Throws `TaskEventError` in the task that sent it.
 */
export function checkedPayload(taskId: string, name: string, payload: unknown): JsonValue {
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new TaskEventError(taskId, String(name), 'has a bad name: use letters, digits and _ . : - (at most 100 characters), e.g. "model:trained".');
  }
  if (name.startsWith(reservedPrefix)) throw new TaskEventError(taskId, name, `uses the prefix "${reservedPrefix}", which the scheduler's own events use; pick another name.`);
  let text: string | undefined;
  try {
    text = JSON.stringify(payload ?? null);
  } catch (err) {
    throw new TaskEventError(taskId, name, `has a payload that is not JSON (${(err as Error).message}); send plain objects, arrays, strings, numbers, booleans or null.`);
  }
  if (text === undefined) throw new TaskEventError(taskId, name, 'has a payload that is not JSON (a function or a symbol); send plain data.');
  const bytes = Buffer.byteLength(text);
  if (bytes > maxEventPayloadBytes) {
    throw new TaskEventError(taskId, name, `has a ${bytes}-byte payload; the limit is ${maxEventPayloadBytes} bytes. Write large data to an output target and send its URI.`);
  }
  return JSON.parse(text) as JsonValue;
}

/** Hands an event to its subscribers; a subscriber that throws is reported to `onError` and never fails the run. */
export function deliverTaskEvent(handlers: TaskEventHandlers, event: TaskEvent, onError: (err: unknown, event: TaskEvent) => void): void {
  for (const key of [event.name, '*']) {
    const handler = handlers[key];
    if (!handler) continue;
    try {
      handler(event.payload, event);
    } catch (err) {
      onError(err, event);
    }
  }
}

/** A named event with a payload type, so sender and subscriber agree on its shape. */
export interface TaskEventType<T extends JsonValue> {
  readonly name: string;
  /** Sends it from a task: `modelTrained.emit(ctx, { accuracy })`. */
  emit(ctx: { emit(name: string, payload?: JsonValue): void }, payload: T): void;
  /** A subscription to spread into `on`: `on: { ...modelTrained.on((p) => ...) }`. */
  on(handler: (payload: T, event: TaskEvent) => void): TaskEventHandlers;
}

/** Declares a typed event: `const modelTrained = taskEvent<{ accuracy: number }>('model:trained')`. */
export function taskEvent<T extends JsonValue>(name: string): TaskEventType<T> {
  return {
    name,
    emit: (ctx, payload) => ctx.emit(name, payload),
    on: (handler) => ({ [name]: (payload, event) => handler(payload as T, event) }),
  };
}
