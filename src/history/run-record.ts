import { hostname } from 'node:os';
import type { ParamValue } from '../params';
import type { TaskStatus } from '../scheduler';
import { processAlive } from '../process-alive';
import type { JsonValue } from '../task-events';

/** What a run record says about the run; `unfinished` is derived when read (see `effectiveStatus`). */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';
export type ShownRunStatus = RunStatus | 'unfinished';

/** One task in a run record. `running` while an attempt is under way. */
export interface TaskHistory {
  readonly id: string;
  readonly family?: string;
  readonly status: TaskStatus | 'running';
  readonly attempts: number;
  readonly durationMs?: number;
  readonly executor?: string;
  readonly error?: string;
  /** Why each earlier attempt failed, oldest first (a lost Swarm node, a timeout): kept when a later attempt succeeds. */
  readonly retriedAfter?: readonly string[];
  readonly blockedBy?: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** Found complete once its task lock was ours: another run made it while this one waited. */
  readonly completedElsewhere?: boolean;
  /** The last `ctx.progress(done, total, note)` of the task's attempt. */
  readonly progress?: { readonly done: number; readonly total: number; readonly note?: string };
}

/** A task event as run history keeps it. */
export interface EventHistory {
  readonly at: string;
  readonly taskId: string;
  /** 0 for the scheduler's own dependency events. */
  readonly attempt: number;
  readonly name: string;
  readonly payload: JsonValue;
}

/** Task events a record keeps at most, the first ones; later ones are only counted (`eventsDropped`). */
export const maxRecordedEvents = 1000;

/** `<store>/_runs/<runId>.json`: written at start, updated as tasks finish, final at the end. */
export interface RunRecord {
  readonly format: 'dagwright.run/1';
  readonly runId: string;
  readonly flow: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly store: string;
  /** The name given with `--run-name`, if any. */
  readonly runName?: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  /** Refreshed at least every minute while the run lives. */
  readonly updatedAt: string;
  readonly endedAt?: string;
  readonly durationMs?: number;
  readonly status: RunStatus;
  /** Counts per task status, in the final record. */
  readonly counts?: Readonly<Record<TaskStatus, number>>;
  /** Why the run itself (not a task) failed: a broken graph, an executor that could not start. */
  readonly error?: string;
  readonly tasks: readonly TaskHistory[];
  /** Task events in the order they arrived (`ctx.emit` and the dependency events), at most `maxRecordedEvents`. */
  readonly events?: readonly EventHistory[];
  /** Events past `maxRecordedEvents`, counted but not kept. */
  readonly eventsDropped?: number;
}

/** A `running` record older than this without an update is unfinished, whatever its host. */
export const unfinishedAfterMs = 10 * 60_000;


/**
 * The status to show: a record still `running` whose process is gone (dead
 * pid on this host, or no update for 10 minutes) was killed: `unfinished`.
 */
export function effectiveStatus(record: RunRecord, now = Date.now()): ShownRunStatus {
  if (record.status !== 'running') return record.status;
  if (record.host === hostname() && !processAlive(record.pid)) return 'unfinished';
  if (now - Date.parse(record.updatedAt) > unfinishedAfterMs) return 'unfinished';
  return 'running';
}
