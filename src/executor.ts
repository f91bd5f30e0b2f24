import type { AnyTask, TaskContext } from './task';

/**
 * Runs one attempt of one task. The scheduler decides what runs, when, and
 * how often; an executor only decides where. It resolves when the attempt
 * succeeded and rejects with the attempt's error otherwise, and must reject
 * promptly once `ctx.signal` is aborted.
 */
export interface Executor {
  /** Recorded in logs and run history: "inprocess", "docker", ... */
  readonly name: string;
  execute(task: AnyTask, ctx: TaskContext): Promise<void>;
  /** Releases what the executor holds (connections, containers); called once after the run. */
  close(): Promise<void>;
}
