import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CancelledError, LockedError, LockLostError, UsageError } from '../errors';
import type { Executor } from '../executor';
import { RunRecorder, statusOfSummary } from '../history/run-history';
import { acquireLock, type HeldLock } from '../locks/file-lock';
import { sweepRunLeftovers } from '../locks/run-leftovers';
import { flowLockName, lockDirForStore } from '../locks/state-dir';
import { TaskLockingExecutor } from '../locks/task-locking-executor';
import type { ParamValue } from '../params';
import type { RunSummary } from '../run';
import { newRunId } from '../run-id';
import type { SchedulerEvent } from '../scheduler';
import type { AnyTask } from '../task';
import { checkStoreUsable, storeWriteError } from '../store/store-check';
import type { Store } from '../store/store';
import { ExitCode, exitCodeOf } from '../step/exit-codes';
import { tellRunWatchers } from './live-view-events';

export interface GuardedRunOptions<T = undefined> {
  /** The flow's name: in the lock file name, logs and history. */
  readonly flow: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** A name for the run in its history record (`--run-name`). */
  readonly runName?: string;
  /** The store, parsed once. */
  readonly store: Store;
  /** Wait for a run holding the flow lock instead of exiting with `ExitCode.locked`. */
  readonly wait: boolean;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /**
   * Configuration checks and set-up (the executor, a plan) that must pass
   * before anything is written: a `UsageError` here exits 2 with no lock file
   * and no history record left behind. Its result reaches the body as
   * `prepared`. When the run had to wait for the flow lock (`wait`), what it
   * prepared may be stale (the run it waited for made outputs): it is
   * disposed and `prepare` runs again once the lock is held.
   */
  readonly prepare?: () => Promise<T>;
  /** Releases what `prepare` made, whatever happened after it. */
  readonly dispose?: (prepared: T) => Promise<void>;
  /** The run's tasks: their local output folders outside the store are swept too, and on S3 their dead uploads. */
  readonly tasks?: () => readonly AnyTask[];
}

/** What the run body gets: the run id, and the hooks that lock tasks and record history. */
export interface RunHooks<T = undefined> {
  readonly runId: string;
  /** Aborted on cancellation (the run's signal) and when the run loses its flow lock. */
  readonly signal: AbortSignal;
  /** What `prepare` returned. */
  readonly prepared: T;
  /** Wraps the run's executor so shared tasks never run twice at once (see `TaskLockingExecutor`). */
  wrapExecutor(executor: Executor): Executor;
  onEvent(event: SchedulerEvent): void;
}

/** A run body's result: a summary, or an exit code when the run could not start (with why). */
export type RunOutcome = { readonly summary: RunSummary } | { readonly exitCode: number; readonly error: string };

/** Checks and set-up before anything is written; an exit code when they fail. */
async function prepareRun<T>(options: GuardedRunOptions<T>): Promise<{ prepared: T } | { exitCode: number }> {
  try {
    await checkStoreUsable(options.store);
    return { prepared: (await options.prepare?.()) as T };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    options.logger.error({ errorType: err.name }, err.message);
    return { exitCode: ExitCode.usage };
  }
}

/** Takes the flow lock (and says whether it had to wait); an exit code when it cannot (held by another run, cancelled, a full disk). */
async function takeFlowLock(options: GuardedRunOptions<unknown>, lockDir: string): Promise<{ lock: HeldLock; waited: boolean } | number> {
  let waited = false;
  const { logger, flow, params, store } = options;
  // Remember what this makes, so a run that cannot even write its lock leaves no empty folders behind.
  const made = await mkdir(lockDir, { recursive: true }).catch((err: unknown) => err);
  try {
    if (made instanceof Error) throw made;
    const lock = await acquireLock(join(lockDir, flowLockName(flow, params, store)), {
      label: `a run of flow ${flow}`,
      wait: options.wait,
      signal: options.signal,
      logger,
      onBusy: (holder) => {
        waited = true;
        logger.info({ holder: { pid: holder.pid, host: holder.host, since: holder.startedAt } }, `another run of flow ${flow} holds the lock; waiting for it (--wait)`);
      },
    });
    return { lock, waited };
  } catch (err) {
    if (typeof made === 'string') await rm(made, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof LockedError) {
      const { pid, host, startedAt } = err.holder;
      logger.warn(
        { lock: err.lockPath, holder: { pid, host, since: startedAt, heartbeatAt: err.holder.heartbeatAt } },
        `another run of flow ${flow} with these parameters is running (pid ${pid} on ${host} since ${startedAt}); nothing ran. Exit ${ExitCode.locked}; pass --wait to wait for it.`,
      );
      return ExitCode.locked;
    }
    if (err instanceof CancelledError) {
      logger.warn('cancelled while waiting for the flow lock; nothing ran');
      return ExitCode.taskFailed;
    }
    // A failed write at the very start: a full disk says ENOSPC, or (mkdir -p) only ENOENT; look again.
    const unusable = storeWriteError(store, err) ?? (await checkStoreUsable(store).then(() => undefined, (e: unknown) => e));
    if (!(unusable instanceof UsageError)) throw err;
    logger.error({ errorType: unusable.name }, unusable.message);
    return ExitCode.usage;
  }
}

/**
 * One run of a flow as a flow script does it: checks the store and runs
 * `prepare` (nothing is written when they fail: exit 2), takes the flow lock
 * (flow name, parameters and store) or gives up with `ExitCode.locked`,
 * sweeps dead writers' leftovers, records the run in the store's history,
 * runs `body`, and releases the lock whatever happens. A run that loses its
 * lock (frozen past the stale limit) is cancelled and exits 75. Returns the
 * exit code.
 */
export async function guardedRun<T = undefined>(options: GuardedRunOptions<T>, body: (hooks: RunHooks<T>) => Promise<RunOutcome>): Promise<number> {
  const ready = await prepareRun(options);
  if ('exitCode' in ready) return ready.exitCode;
  const held: Prepared<T> = { value: ready.prepared, live: true };
  try {
    return await lockedRun(options, held, body);
  } finally {
    if (held.live) await options.dispose?.(held.value);
  }
}

/** What `prepare` made, and whether it still needs disposing. */
interface Prepared<T> {
  value: T;
  live: boolean;
}

/** After waiting for the lock: prepares again (the plan is stale); an exit code when that now fails. */
async function prepareAgain<T>(options: GuardedRunOptions<T>, held: Prepared<T>): Promise<number | undefined> {
  held.live = false;
  await options.dispose?.(held.value);
  const again = await prepareRun(options);
  if ('exitCode' in again) return again.exitCode;
  held.value = again.prepared;
  held.live = true;
  return undefined;
}

async function lockedRun<T>(options: GuardedRunOptions<T>, held: Prepared<T>, body: (hooks: RunHooks<T>) => Promise<RunOutcome>): Promise<number> {
  const { logger, flow, params, store } = options;
  const lockDir = lockDirForStore(store);
  const taken = await takeFlowLock(options as GuardedRunOptions<unknown>, lockDir);
  if (typeof taken === 'number') return taken;
  const { lock } = taken;
  if (taken.waited && options.prepare) {
    const failed = await prepareAgain(options, held).catch(async (err: unknown) => {
      await lock.release();
      throw err;
    });
    if (failed !== undefined) {
      await lock.release();
      return failed;
    }
  }
  const prepared = held.value;
  const controller = new AbortController();
  const abort = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) abort();
  else options.signal.addEventListener('abort', abort, { once: true });
  lock.onLost((lost) => controller.abort(lost));
  const runId = newRunId();
  try {
    await sweepRunLeftovers(store.uri, lockDir, options.tasks?.() ?? [], logger);
    const recorder = await RunRecorder.start(store, { runId, flow, params, store: store.uri, ...(options.runName ? { runName: options.runName } : {}) }, logger.child({ runId }));
    tellRunWatchers({ type: 'run:start', runId });
    let outcome: RunOutcome;
    try {
      outcome = await body({
        runId,
        signal: controller.signal,
        prepared,
        wrapExecutor: (executor) =>
          new TaskLockingExecutor(executor, lockDir, { flowLock: lock, onCompletedElsewhere: (id) => recorder.markCompletedElsewhere(id) }),
        onEvent: (event) => {
          recorder.onEvent(event);
          tellRunWatchers(event);
        },
      });
    } catch (err) {
      await recorder.finish({ status: controller.signal.aborted ? 'cancelled' : 'failed', error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    if (lock.compromised) {
      const reason = controller.signal.reason instanceof LockLostError ? controller.signal.reason.message : 'lost the flow lock';
      await recorder.finish({ ...('summary' in outcome ? { summary: outcome.summary } : {}), status: 'cancelled', error: reason });
      logger.error({ lock: lock.path }, `${reason} Exit ${ExitCode.locked}.`);
      return ExitCode.locked;
    }
    if ('summary' in outcome) {
      await recorder.finish({ summary: outcome.summary, status: statusOfSummary(outcome.summary) });
      return exitCodeOf(outcome.summary);
    }
    await recorder.finish({ status: 'failed', error: outcome.error });
    return outcome.exitCode;
  } finally {
    tellRunWatchers({ type: 'run:end', runId });
    options.signal.removeEventListener('abort', abort);
    await lock.release();
  }
}
