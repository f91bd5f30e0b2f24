import type { Executor } from '../executor';
import type { Logger } from 'pino';
import type { Tracking } from '../task-tracking';
import type { JsonValue } from '../task-events';
import type { TaskResults } from '../task-results';

/** `missing`: an `ExternalTask` whose data is not there (not a failure of the flow's own tasks). */
export type TaskStatus = 'ran' | 'complete' | 'failed' | 'blocked' | 'cancelled' | 'missing';

/** The outcome of one task in a run. */
export interface TaskRecord {
  readonly id: string;
  readonly family: string;
  readonly status: TaskStatus;
  readonly attempts: number;
  readonly durationMs: number;
  readonly executor?: string;
  /** For failed and missing tasks: the last attempt's error message. */
  readonly error?: string;
  /** For blocked tasks: the failed (or missing) task they depend on. */
  readonly blockedBy?: string;
  /** For a task that runs after failed requirements: which failed. */
  readonly failedRequirements?: readonly string[];
}

/** What the scheduler reports while it works; run history, the terminal view and tests listen. */
export type SchedulerEvent =
  | { readonly type: 'task:start'; readonly taskId: string; readonly attempt: number }
  | { readonly type: 'task:retry'; readonly taskId: string; readonly attempt: number; readonly error: string; readonly delayMs: number }
  | { readonly type: 'task:progress'; readonly taskId: string; readonly attempt: number; readonly done: number; readonly total: number; readonly note?: string }
  | { readonly type: 'task:end'; readonly record: TaskRecord }
  /** `ctx.emit(name, payload)` of an attempt, or the scheduler's own dependency events (attempt 0; see `dependencyEvents`). */
  | { readonly type: 'task:event'; readonly taskId: string; readonly attempt: number; readonly name: string; readonly payload: JsonValue };

export interface ExecuteOptions {
  readonly executor: Executor;
  readonly workers: number;
  readonly runId: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly onEvent?: (event: SchedulerEvent) => void;
  readonly tracking?: (taskId: string, attempt: number) => Tracking;
  /** Where tasks' return values are kept and read (`ctx.results`). */
  readonly results: TaskResults;
  /** Capacities of named pools (`{ gpu: 1 }`); a pool with none given is unlimited. */
  readonly pools?: Readonly<Record<string, number>>;
  /** At most this many tasks of a family at once (`{ Train: 1 }`). */
  readonly familyLimits?: Readonly<Record<string, number>>;
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
