import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { CancelledError, DagwrightError, MissingOutputError, TaskFailedError, TaskTimeoutError } from './errors';
import type { Executor } from './executor';
import type { Plan } from './plan';
import type { AnyTask, TaskContext } from './task';
import { noTracking, type Tracking } from './tracking/tracking';

export type TaskStatus = 'ran' | 'complete' | 'failed' | 'blocked' | 'cancelled';

/** The outcome of one task in a run. */
export interface TaskRecord {
  readonly id: string;
  readonly family: string;
  readonly status: TaskStatus;
  readonly attempts: number;
  readonly durationMs: number;
  readonly executor?: string;
  /** For failed tasks: the last attempt's error message. */
  readonly error?: string;
  /** For blocked tasks: the failed task they depend on. */
  readonly blockedBy?: string;
}

/** What the scheduler reports while it works; run history and tests listen. */
export type SchedulerEvent =
  | { readonly type: 'task:start'; readonly taskId: string; readonly attempt: number }
  | { readonly type: 'task:retry'; readonly taskId: string; readonly attempt: number; readonly error: string; readonly delayMs: number }
  | { readonly type: 'task:progress'; readonly taskId: string; readonly attempt: number; readonly done: number; readonly total: number; readonly note?: string }
  | { readonly type: 'task:end'; readonly record: TaskRecord };

export interface ExecuteOptions {
  readonly executor: Executor;
  readonly workers: number;
  readonly runId: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly onEvent?: (event: SchedulerEvent) => void;
  readonly tracking?: (taskId: string, attempt: number) => Tracking;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function isRetryable(err: unknown): boolean {
  return err instanceof DagwrightError ? err.retryable : true;
}

/** Outputs that do not exist after a run, for the error message. */
async function missingOutputs(task: AnyTask): Promise<string[]> {
  const outputs = task.outputList();
  const found = await Promise.all(outputs.map((t) => t.exists()));
  return outputs.filter((_, i) => !found[i]).map((t) => t.uri);
}

/**
 * Runs the plan: a task starts when everything it requires has finished, with
 * at most `workers` at a time. A failure blocks only the tasks that depend on
 * it. After `signal` aborts no task starts, and running ones are aborted.
 */
export async function executePlan(plan: Plan, options: ExecuteOptions): Promise<TaskRecord[]> {
  const { graph } = plan;
  const { executor, runId, signal } = options;
  const limit = pLimit(options.workers);
  const pending = new Set(plan.toRun);
  const waitingOn = new Map<string, number>();
  const records = new Map<string, TaskRecord>();
  const startedIds = new Set<string>();
  let settle!: () => void;
  const allSettled = new Promise<void>((resolve) => (settle = resolve));

  const emit = (event: SchedulerEvent): void => {
    try {
      options.onEvent?.(event);
    } catch (err) {
      options.logger.warn({ err }, 'an event listener threw; ignored');
    }
  };

  const finish = (record: TaskRecord): void => {
    if (records.has(record.id)) return;
    records.set(record.id, record);
    emit({ type: 'task:end', record });
    if (records.size === pending.size) settle();
  };

  const block = (failedId: string): void => {
    const stack = graph.dependents(failedId).filter((id) => pending.has(id));
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (records.has(id)) continue;
      const task = graph.task(id);
      options.logger.warn({ taskId: id, blockedBy: failedId }, 'blocked by a failed requirement');
      finish({ id, family: task.family, status: 'blocked', attempts: 0, durationMs: 0, blockedBy: failedId });
      stack.push(...graph.dependents(id).filter((d) => pending.has(d)));
    }
  };

  const succeeded = (id: string): void => {
    for (const dependent of graph.dependents(id)) {
      if (!pending.has(dependent)) continue;
      const left = waitingOn.get(dependent)! - 1;
      waitingOn.set(dependent, left);
      if (left === 0) start(dependent);
    }
  };

  const start = (id: string): void => {
    void limit(() => runTask(id)).then(
      (record) => {
        finish(record);
        if (record.status === 'ran') succeeded(id);
        else if (record.status === 'failed') block(id);
      },
      (err: unknown) => {
        // runTask catches everything; this is a bug guard, not a path.
        options.logger.error({ err, taskId: id }, 'scheduler error');
        finish({ id, family: graph.task(id).family, status: 'failed', attempts: 0, durationMs: 0, error: String(err) });
        block(id);
      },
    );
  };

  const runTask = async (id: string): Promise<TaskRecord> => {
    startedIds.add(id);
    const task = graph.task(id);
    const logger = options.logger.child({ taskId: id });
    if (signal.aborted) return { id, family: task.family, status: 'cancelled', attempts: 0, durationMs: 0 };
    const checkError = plan.checkErrors.get(id);
    if (checkError !== undefined) {
      const error = `complete() failed: ${asError(checkError).message}`;
      logger.error({ err: checkError }, error);
      return { id, family: task.family, status: 'failed', attempts: 0, durationMs: 0, error };
    }
    const started = performance.now();
    let attempts = 0;
    const record = (status: TaskStatus, error?: string): TaskRecord => ({
      id,
      family: task.family,
      status,
      attempts,
      durationMs: Math.round(performance.now() - started),
      executor: executor.name,
      ...(error === undefined ? {} : { error }),
    });
    try {
      const retries = task.retries ?? 0;
      for (attempts = 1; ; attempts++) {
        try {
          await runAttempt(task, attempts, logger);
          break;
        } catch (err) {
          if (attempts > retries || signal.aborted || !isRetryable(err)) throw err;
          const delayMs = (task.retryDelayMs ?? 1000) * 2 ** (attempts - 1);
          logger.warn({ attempt: attempts, err, delayMs }, 'attempt failed; retrying');
          emit({ type: 'task:retry', taskId: id, attempt: attempts, error: asError(err).message, delayMs });
          await sleep(delayMs, undefined, { signal });
        }
      }
      const ran = record('ran');
      logger.info({ durationMs: ran.durationMs, attempts }, 'task succeeded');
      return ran;
    } catch (err) {
      if (signal.aborted) {
        logger.warn('task cancelled');
        return record('cancelled');
      }
      const error = asError(err);
      logger.error({ err: error, attempts }, 'task failed');
      return record('failed', error.message);
    }
  };

  /** The run's signal, or with a timeout, one that also aborts when the attempt's time is up. */
  const attemptSignal = (task: AnyTask): { signal: AbortSignal; dispose: () => void } => {
    const { timeoutMs } = task;
    if (timeoutMs === undefined) return { signal, dispose: () => {} };
    const controller = new AbortController();
    const onRunAbort = () => controller.abort(new CancelledError(task.id));
    signal.addEventListener('abort', onRunAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new TaskTimeoutError(task.id, timeoutMs)), timeoutMs);
    return {
      signal: controller.signal,
      dispose: () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onRunAbort);
      },
    };
  };

  const runAttempt = async (task: AnyTask, attempt: number, logger: Logger): Promise<void> => {
    const attemptAbort = attemptSignal(task);
    emit({ type: 'task:start', taskId: task.id, attempt });
    logger.info({ attempt }, 'task started');
    try {
      const tracking = options.tracking?.(task.id, attempt) ?? noTracking;
      const progress: TaskContext['progress'] = (done, total, note) =>
        emit({ type: 'task:progress', taskId: task.id, attempt, done, total, ...(note === undefined ? {} : { note }) });
      await executor.execute(task, { runId, taskId: task.id, attempt, signal: attemptAbort.signal, logger, tracking, progress });
    } catch (err) {
      if (attemptAbort.signal.aborted) throw asError(attemptAbort.signal.reason);
      throw err instanceof DagwrightError ? err : new TaskFailedError(task.id, err);
    } finally {
      attemptAbort.dispose();
    }
    const outputs = task.completeByOutputs ? task.outputList() : undefined;
    if (outputs?.length === 0) return; // nothing declared, nothing to check
    if (!(await task.complete())) throw new MissingOutputError(task.id, await missingOutputs(task));
  };


  if (pending.size === 0) return [];
  // Queued and waiting tasks never start once the run is aborted; running ones end themselves.
  const onAbort = () => {
    limit.clearQueue();
    for (const id of pending) {
      if (!records.has(id) && !startedIds.has(id)) {
        finish({ id, family: graph.task(id).family, status: 'cancelled', attempts: 0, durationMs: 0 });
      }
    }
  };
  const ready: string[] = [];
  for (const id of plan.toRun) {
    const count = graph.dependencies(id).filter((dep) => pending.has(dep)).length;
    waitingOn.set(id, count);
    if (count === 0) ready.push(id);
  }
  // Each running attempt listens to the run's signal; that many listeners are expected, not a leak.
  setMaxListeners(2 * options.workers + 10, signal);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (const id of ready) start(id);
    await allSettled;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return plan.toRun.map((id) => records.get(id)!);
}
