import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { UsageError } from './errors';
import type { Executor } from './executor';
import { createLogger } from './logger';
import { type Planner, planRun } from './plan';
import { newRunId } from './run-id';
import { executePlan, type SchedulerEvent, type TaskRecord } from './scheduler/index';
import type { AnyTask } from './task';
import type { Tracking } from './task-tracking';
import { deliverTaskEvent, type TaskEventHandlers } from './task-events';
import { memoryResults, storeResults } from './task-results';
import type { Store } from './store/store';

export interface RunOptions {
  /** Where tasks run; default: in this process (`run()`; the scheduler's `runTasks` is given one). */
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
  /**
   * Subscribers to task events by name (`ctx.emit`, and the scheduler's
   * `dependency:discovered` / `missing` / `present`); `'*'` gets all. A
   * subscriber that throws is logged and never fails the run.
   */
  on?: TaskEventHandlers;
  /** Experiment tracking for each attempt (`ctx.tracking`); default: none (`noTracking`). */
  tracking?: (taskId: string, attempt: number) => Tracking;
  /**
   * Where what `run()` returns is kept and read (`ctx.results`): a store (a
   * folder or `s3://` URI) keeps each result under `_results/<taskId>.json`,
   * so a later run that skips the task still hands it on; default: in memory,
   * for this run only. A flow script keeps them in its `--store`.
   */
  results?: Store | string;
  /** Capacities of named concurrency pools tasks declare in `pools` (`{ gpu: 1, db: 2 }`); a pool without one is unlimited. */
  pools?: Readonly<Record<string, number>>;
  /** At most this many tasks of a family at once (`{ TrainModel: 1 }`), whatever `workers` says. */
  familyLimits?: Readonly<Record<string, number>>;
  /** Run these again even if complete, with everything downstream: family names, task ids, or a predicate. */
  rerun?: readonly string[] | ((task: AnyTask) => boolean);
  /** Refuse to plan more tasks than this (an endless requires() chain); default 1,000,000. */
  maxTasks?: number;
  /** A plan `planRun` made for these roots (a flow plans before taking its lock); default: plan now. */
  plan?: Planner;
}

const knownOptions = new Set<string>([
  'executor', 'workers', 'checkConcurrency', 'logger', 'runId', 'signal', 'onEvent', 'on', 'tracking', 'results', 'pools', 'familyLimits', 'rerun', 'maxTasks', 'plan',
]);

export interface RunSummary {
  readonly runId: string;
  /** Every root task is complete and no task failed, was blocked or missed external data (a `runsAfterFailedRequirements` root that ran does not make a failed run ok). */
  readonly ok: boolean;
  readonly cancelled: boolean;
  readonly durationMs: number;
  /** Tasks found complete, then the tasks the run tried, dependencies first. */
  readonly tasks: readonly TaskRecord[];
}

/** `rerun` as a predicate: a name matches a task's family or its id. */
export function rerunMatcher(rerun: RunOptions['rerun']): ((task: AnyTask) => boolean) | undefined {
  if (rerun === undefined) return undefined;
  if (typeof rerun === 'function') return rerun;
  const names = new Set(rerun);
  return names.size === 0 ? undefined : (task) => names.has(task.family) || names.has(task.id);
}

function checkOptions(options: RunOptions): void {
  const unknown = Object.keys(options).filter((k) => !knownOptions.has(k));
  if (unknown.length > 0) {
    throw new UsageError(`run(): unknown option(s) ${unknown.join(', ')}; known: ${[...knownOptions].join(', ')}.`);
  }
}

/** The options of a run whose executor is decided: the scheduler talks to it through `Executor` only. */
export type ScheduledRunOptions = RunOptions & { readonly executor: Executor };

/**
 * The scheduler's run (see `run()`, which gives it the in-process executor
 * by default): plans from `roots` lazily, skips what is complete and runs
 * the rest through `options.executor`.
 */
export async function runTasks(roots: AnyTask | readonly AnyTask[], options: ScheduledRunOptions): Promise<RunSummary> {
  checkOptions(options);
  const started = performance.now();
  const runId = options.runId ?? newRunId();
  const logger = (options.logger ?? createLogger()).child({ runId });
  const signal = options.signal ?? new AbortController().signal;
  const { executor } = options;
  const plan =
    options.plan ??
    (await planRun(Array.isArray(roots) ? roots : [roots as AnyTask], {
      concurrency: options.checkConcurrency ?? 64,
      rerun: rerunMatcher(options.rerun),
      maxTasks: options.maxTasks,
    }));
  logger.info(
    { tasks: plan.graph.size, complete: plan.complete.size, toRun: plan.toRun.length, executor: executor.name },
    plan.toRun.length === 0 ? 'everything is complete; nothing to run' : `running ${plan.toRun.length} task(s)`,
  );
  const records = await executePlan(plan, {
    executor,
    workers: options.workers ?? availableParallelism(),
    runId,
    logger,
    signal,
    onEvent: withSubscribers(options, logger),
    tracking: options.tracking,
    results: options.results === undefined ? memoryResults() : storeResults(options.results),
    pools: options.pools,
    familyLimits: options.familyLimits,
  });
  return summarize(plan, records, runId, signal, started);
}

/** `onEvent`, with task events handed to the `on` subscribers first. */
function withSubscribers(options: RunOptions, logger: Logger): ((event: SchedulerEvent) => void) | undefined {
  const { on, onEvent } = options;
  if (on === undefined || Object.keys(on).length === 0) return onEvent;
  const onError = (err: unknown, event: { name: string; taskId: string }) => logger.warn({ err, event: event.name, taskId: event.taskId }, 'a task event subscriber threw; ignored');
  return (event) => {
    if (event.type === 'task:event') deliverTaskEvent(on, { name: event.name, taskId: event.taskId, attempt: event.attempt, payload: event.payload }, onError);
    onEvent?.(event);
  };
}

function summarize(plan: Planner, records: readonly TaskRecord[], runId: string, signal: AbortSignal, started: number): RunSummary {
  const tried = new Set(records.map((r) => r.id));
  const completeRecords: TaskRecord[] = [...plan.complete]
    .filter((id) => !tried.has(id))
    .map((id) => ({ id, family: plan.graph.task(id).family, status: 'complete', attempts: 0, durationMs: 0 }));
  const statusOf = new Map(records.map((r) => [r.id, r.status]));
  // A failure anywhere fails the run, even when the root is a report step that ran after it (cron must see it).
  const anyFailed = records.some((r) => r.status === 'failed' || r.status === 'blocked' || r.status === 'missing');
  const ok = !anyFailed && plan.graph.roots.every((root) => plan.complete.has(root.id) || statusOf.get(root.id) === 'ran');
  return {
    runId,
    ok,
    cancelled: signal.aborted,
    durationMs: Math.round(performance.now() - started),
    tasks: [...completeRecords, ...records],
  };
}
