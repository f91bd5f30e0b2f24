import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { Executor } from './executor';
import { InProcessExecutor } from './executors/in-process';
import { TaskGraph } from './graph';
import { createLogger } from './logger';
import { planRun } from './plan';
import { newRunId } from './run-id';
import { executePlan, type SchedulerEvent, type TaskRecord } from './scheduler';
import type { AnyTask } from './task';
import type { Tracking } from './tracking/tracking';

export interface RunOptions {
  /** Where tasks run; default: in this process. */
  executor?: Executor;
  /** Tasks running at once; default: the number of cores. */
  workers?: number;
  /** Completeness checks at once (they are I/O: a HEAD request, a stat); default 64. */
  checkConcurrency?: number;
  logger?: Logger;
  runId?: string;
  /** Abort to cancel the run: no new task starts, running ones are aborted. */
  signal?: AbortSignal;
  onEvent?: (event: SchedulerEvent) => void;
  /** Experiment tracking for each attempt (`ctx.tracking`); default: none (`noTracking`). */
  tracking?: (taskId: string, attempt: number) => Tracking;
}

export interface RunSummary {
  readonly runId: string;
  /** Every root task is complete. */
  readonly ok: boolean;
  readonly cancelled: boolean;
  readonly durationMs: number;
  /** Tasks found complete, then the tasks the run tried, dependencies first. */
  readonly tasks: readonly TaskRecord[];
}

/**
 * Resolves the DAG from `roots`, skips what is complete and runs the rest.
 * Never throws for a task's failure: the summary says what failed. Throws
 * for a broken graph (a cycle, a bad requires()) before anything runs.
 */
export async function run(roots: AnyTask | readonly AnyTask[], options: RunOptions = {}): Promise<RunSummary> {
  const started = performance.now();
  const runId = options.runId ?? newRunId();
  const logger = (options.logger ?? createLogger()).child({ runId });
  const signal = options.signal ?? new AbortController().signal;
  const executor = options.executor ?? new InProcessExecutor();
  const graph = TaskGraph.build(Array.isArray(roots) ? roots : [roots as AnyTask]);
  const plan = await planRun(graph, options.checkConcurrency ?? 64);
  logger.info(
    { tasks: graph.size, complete: plan.complete.size, toRun: plan.toRun.length, executor: executor.name },
    plan.toRun.length === 0 ? 'everything is complete; nothing to run' : `running ${plan.toRun.length} task(s)`,
  );
  const records = await executePlan(plan, {
    executor,
    workers: options.workers ?? availableParallelism(),
    runId,
    logger,
    signal,
    onEvent: options.onEvent,
    tracking: options.tracking,
  });
  const completeRecords: TaskRecord[] = [...plan.complete].map((id) => ({
    id,
    family: graph.task(id).family,
    status: 'complete',
    attempts: 0,
    durationMs: 0,
  }));
  const statusOf = new Map(records.map((r) => [r.id, r.status]));
  const ok = graph.roots.every((root) => plan.complete.has(root.id) || statusOf.get(root.id) === 'ran');
  return {
    runId,
    ok,
    cancelled: signal.aborted,
    durationMs: Math.round(performance.now() - started),
    tasks: [...completeRecords, ...records],
  };
}
