import { join } from 'node:path';
import type { Logger } from 'pino';
import { CancelledError, LockedError } from '../errors';
import type { Executor } from '../executor';
import { RunRecorder, statusOfSummary } from '../history/run-history';
import { acquireLock, type HeldLock } from '../locks/file-lock';
import { flowLockName, lockDirForStore } from '../locks/state-dir';
import { TaskLockingExecutor } from '../locks/task-locking-executor';
import type { ParamValue } from '../params';
import type { RunSummary } from '../run';
import { newRunId } from '../run-id';
import type { SchedulerEvent } from '../scheduler';
import { ExitCode } from './exit-codes';

export interface GuardedRunOptions {
  /** The flow's name: in the lock file name, logs and history. */
  readonly flow: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Resolved store: an absolute folder or a URI. */
  readonly store: string;
  /** Wait for a run holding the flow lock instead of exiting with `ExitCode.locked`. */
  readonly wait: boolean;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

/** What the run body gets: the run id, and the hooks that lock tasks and record history. */
export interface RunHooks {
  readonly runId: string;
  /** Wraps the run's executor so shared tasks never run twice at once (see `TaskLockingExecutor`). */
  wrapExecutor(executor: Executor): Executor;
  onEvent(event: SchedulerEvent): void;
}

/** A run body's result: a summary, or an exit code when the run could not start (with why). */
export type RunOutcome = { readonly summary: RunSummary } | { readonly exitCode: number; readonly error: string };

/**
 * One run of a flow as a flow script does it: takes the flow lock (flow name,
 * parameters and store) or gives up with `ExitCode.locked`, records the run
 * in the store's history, runs `body`, and releases the lock whatever
 * happens. Returns the exit code.
 */
export async function guardedRun(options: GuardedRunOptions, body: (hooks: RunHooks) => Promise<RunOutcome>): Promise<number> {
  const { logger, flow, params, store } = options;
  const lockDir = lockDirForStore(store);
  let lock: HeldLock;
  try {
    lock = await acquireLock(join(lockDir, flowLockName(flow, params, store)), {
      label: `a run of flow ${flow}`,
      wait: options.wait,
      signal: options.signal,
      logger,
      onBusy: (holder) =>
        logger.info({ holder: { pid: holder.pid, host: holder.host, since: holder.startedAt } }, `another run of flow ${flow} holds the lock; waiting for it (--wait)`),
    });
  } catch (err) {
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
    throw err;
  }
  try {
    const runId = newRunId();
    const recorder = await RunRecorder.start(store, { runId, flow, params, store }, logger.child({ runId }));
    let outcome: RunOutcome;
    try {
      outcome = await body({
        runId,
        wrapExecutor: (executor) => new TaskLockingExecutor(executor, lockDir, { onCompletedElsewhere: (id) => recorder.markCompletedElsewhere(id) }),
        onEvent: (event) => recorder.onEvent(event),
      });
    } catch (err) {
      await recorder.finish({ status: options.signal.aborted ? 'cancelled' : 'failed', error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    if ('summary' in outcome) {
      await recorder.finish({ summary: outcome.summary, status: statusOfSummary(outcome.summary) });
      return outcome.summary.ok ? ExitCode.ok : ExitCode.taskFailed;
    }
    await recorder.finish({ status: 'failed', error: outcome.error });
    return outcome.exitCode;
  } finally {
    await lock.release();
    if (lock.compromised) logger.error({ lock: lock.path }, 'the flow lock was taken over by another process during this run');
  }
}
