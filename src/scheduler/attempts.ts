import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { bulkComplete } from '../bulk-complete';
import { dynamicRequire, RequirementsPending } from '../dynamic-requirements';
import { CancelledError, DagwrightError, MissingOutputError, TaskFailedError, TaskTimeoutError, UnfulfilledRequirementError } from '../errors';
import type { Executor } from '../executor';
import { nextRetryDelay, policyOf } from '../retry-policy';
import { redactSecrets } from '../secrets';
import type { AnyTask, TaskContext } from '../task';
import { noTracking, type Tracking } from '../task-tracking';
import { checkedPayload } from '../task-events';
import type { TaskResults } from '../task-results';
import { asError, type SchedulerEvent, type TaskRecord, type TaskStatus } from './types';

/** What one task's attempts need from the run. */
export interface AttemptEnv {
  readonly executor: Executor;
  readonly runId: string;
  readonly signal: AbortSignal;
  readonly emit: (event: SchedulerEvent) => void;
  readonly tracking?: (taskId: string, attempt: number) => Tracking;
  readonly results: TaskResults;
  /** Tasks the run must redo though complete (`rerun`). */
  readonly forced: (taskId: string) => boolean;
}

/** How a task's turn ended: a final record, or suspended on dynamic requirements. */
export type TurnResult = { readonly record: TaskRecord } | { readonly suspended: readonly AnyTask[] };

/** Outputs that do not exist, as URIs. */
export async function missingOutputs(task: AnyTask): Promise<string[]> {
  const outputs = task.outputList();
  const found = await Promise.all(outputs.map((t) => t.exists()));
  return outputs.filter((_, i) => !found[i]).map((t) => t.uri);
}

/** Above this many requirements, one listing per output folder beats one check each. */
const bulkRecheckFrom = 64;

/**
 * Just before a start: every requirement is still complete, judged as the
 * planner judged it (another process may have removed outputs, or changed
 * what a requirement's own `complete()` looks at).
 */
async function recheckRequirements(task: AnyTask, requirements: readonly AnyTask[]): Promise<void> {
  for (const dep of requirements.filter((d) => !d.completeByOutputs)) {
    if (!(await dep.complete())) throw new UnfulfilledRequirementError(task.id, dep.id, []);
  }
  let deps = requirements.filter((dep) => dep.completeByOutputs);
  if (deps.length >= bulkRecheckFrom || (task.listsRequirements === true && deps.length > 1)) {
    const present = await bulkComplete(deps);
    deps = deps.filter((_, i) => !present[i]); // only these need a closer look (and the error message)
  }
  for (const dep of deps) {
    const missing = await missingOutputs(dep);
    if (missing.length > 0) throw new UnfulfilledRequirementError(task.id, dep.id, missing);
  }
}

/** The run's signal, or with a timeout, one that also aborts when the attempt's time is up. */
function attemptSignal(task: AnyTask, signal: AbortSignal): { signal: AbortSignal; dispose: () => void } {
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
}

/** One attempt: execute, then verify the outputs. Returns the dynamic requirements it is waiting for, if any. */
async function runAttempt(task: AnyTask, attempt: number, logger: Logger, env: AttemptEnv, failedRequirements: readonly string[]): Promise<AnyTask[]> {
  const attemptAbort = attemptSignal(task, env.signal);
  const dynamic = dynamicRequire(task.id);
  env.emit({ type: 'task:start', taskId: task.id, attempt });
  logger.info({ attempt }, 'task started');
  const ctx: TaskContext = {
    runId: env.runId,
    taskId: task.id,
    attempt,
    signal: attemptAbort.signal,
    logger,
    tracking: env.tracking?.(task.id, attempt) ?? noTracking,
    progress: (done, total, note) => env.emit({ type: 'task:progress', taskId: task.id, attempt, done, total, ...(note === undefined ? {} : { note }) }),
    emit: (name, payload) => env.emit({ type: 'task:event', taskId: task.id, attempt, name, payload: checkedPayload(task.id, name, payload) }),
    require: dynamic.require,
    results: env.results,
    failedRequirements,
    ...(env.forced(task.id) ? { rerun: true } : {}),
  };
  try {
    await env.executor.execute(task, ctx);
  } catch (err) {
    if (err instanceof RequirementsPending) return [...err.tasks];
    if (dynamic.pending().length > 0) return dynamic.pending();
    if (attemptAbort.signal.aborted) throw asError(attemptAbort.signal.reason);
    throw err instanceof DagwrightError ? err : new TaskFailedError(task.id, err);
  } finally {
    attemptAbort.dispose();
  }
  if (dynamic.pending().length > 0) return dynamic.pending();
  const outputs = task.completeByOutputs ? task.outputList() : undefined;
  if (outputs?.length === 0) return []; // nothing declared, nothing to check
  if (!(await task.complete())) throw new MissingOutputError(task.id, await missingOutputs(task));
  return [];
}

/** The task's own error for a retry predicate and `onFailure`: what it threw, not dagwright's wrapper. */
const ownError = (err: Error): Error => (err instanceof TaskFailedError && err.cause instanceof Error ? err.cause : err);

/** Attempts until one succeeds, the retry policy gives up, or the run is cancelled. */
async function attemptsWithRetries(task: AnyTask, logger: Logger, env: AttemptEnv, failed: readonly string[], count: { attempts: number }): Promise<AnyTask[]> {
  const policy = policyOf(task);
  for (let attempt = 1; ; attempt++) {
    count.attempts = attempt;
    try {
      return await runAttempt(task, attempt, logger, env, failed);
    } catch (err) {
      const error = asError(err);
      const delayMs = env.signal.aborted ? undefined : nextRetryDelay(policy, attempt, ownError(error));
      if (delayMs === undefined) throw error;
      logger.warn({ attempt, err, delayMs }, 'attempt failed; retrying');
      env.emit({ type: 'task:retry', taskId: task.id, attempt, error: redactSecrets(error.message), delayMs });
      await sleep(delayMs, undefined, { signal: env.signal });
    }
  }
}

/** Calls an `onSuccess` / `onFailure` hook; its errors are logged, never change the outcome. */
async function callHook(logger: Logger, name: string, hook: () => void | Promise<void>): Promise<void> {
  try {
    await hook();
  } catch (err) {
    logger.warn({ err }, `${name} threw; ignored`);
  }
}

/**
 * One task's turn in the run: re-checks its requirements, runs attempts with
 * its retry policy and timeout, verifies outputs, and calls its hooks once.
 */
export async function runTaskTurn(task: AnyTask, requirements: readonly AnyTask[], failed: readonly string[], logger: Logger, env: AttemptEnv): Promise<TurnResult> {
  const started = performance.now();
  const count = { attempts: 0 };
  const record = (status: TaskStatus, error?: string): TaskRecord => ({
    id: task.id,
    family: task.family,
    status,
    attempts: count.attempts,
    durationMs: Math.round(performance.now() - started),
    executor: env.executor.name,
    ...(error === undefined ? {} : { error: redactSecrets(error) }),
    ...(failed.length > 0 ? { failedRequirements: failed } : {}),
  });
  if (env.signal.aborted) return { record: { ...record('cancelled'), attempts: 0, durationMs: 0 } };
  try {
    await recheckRequirements(task, requirements);
    const suspended = await attemptsWithRetries(task, logger, env, failed, count);
    if (suspended.length > 0) return { suspended };
    const { attempts } = count;
    const ran = record('ran');
    logger.info({ durationMs: ran.durationMs, attempts }, 'task succeeded');
    if (task.onSuccess) await callHook(logger, 'onSuccess', () => task.onSuccess!({ taskId: task.id, attempts, durationMs: ran.durationMs }));
    return { record: ran };
  } catch (err) {
    const { attempts } = count;
    if (env.signal.aborted) {
      logger.warn('task cancelled');
      return { record: record('cancelled') };
    }
    const error = asError(err);
    logger.error({ err: error, attempts }, 'task failed');
    const failedRecord = record('failed', error.message);
    if (task.onFailure) await callHook(logger, 'onFailure', () => task.onFailure!(ownError(error), { taskId: task.id, attempts, durationMs: failedRecord.durationMs }));
    return { record: failedRecord };
  }
}
