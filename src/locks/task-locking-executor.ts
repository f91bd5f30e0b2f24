import { join } from 'node:path';
import { runWithPublishGuard } from '../cancellation';
import type { Executor } from '../executor';
import type { AnyTask, TaskContext } from '../task';
import { acquireLock, type HeldLock } from './file-lock';
import { taskLockName } from './state-dir';
import { runWithAttemptLocks } from '../step/lease';

export interface TaskLockingOptions {
  /** See `LockOptions.staleMs`; default 60,000. */
  staleMs?: number;
  /** How often a waiting task looks again; default 250. */
  pollMs?: number;
  /** Called when a task is found complete once its lock is ours: another run made it meanwhile. */
  onCompletedElsewhere?: (taskId: string) => void;
  /** The run's flow lock: checked before each task starts and before each publish; a lost one stops both. */
  flowLock?: HeldLock;
}

/**
 * Wraps an executor so that one task never runs in two processes at once:
 * each attempt takes a lock file named after the task id (waiting while
 * another run holds it), then checks `complete()` again and runs the task only
 * if it is still not complete (for a task with a custom `complete()`, only
 * when it had to wait). Two flows sharing a task thus run it once; the
 * later one waits and finds it done. Waiting counts against the task's
 * `timeoutMs`; the attempt's abort signal ends the wait. Before a task
 * starts, and before each of its writes publishes, the run's flow lock and
 * the task's lock must still be held (`LockLostError` otherwise).
 */
export class TaskLockingExecutor implements Executor {
  /** The wrapped executor's name: history and logs say where the task ran. */
  readonly name: string;

  constructor(
    readonly inner: Executor,
    readonly lockDir: string,
    private readonly options: TaskLockingOptions = {},
  ) {
    this.name = inner.name;
  }

  async execute(task: AnyTask, ctx: TaskContext): Promise<void> {
    let waited = false;
    this.options.flowLock?.assertHeld();
    const lock = await acquireLock(join(this.lockDir, taskLockName(task.id)), {
      label: `task ${task.id} of run ${ctx.runId}`,
      wait: true,
      pollMs: this.options.pollMs ?? 250,
      staleMs: this.options.staleMs,
      signal: ctx.signal,
      logger: ctx.logger,
      onBusy: (holder) => {
        waited = true;
        ctx.logger.info({ holder: { pid: holder.pid, host: holder.host, since: holder.startedAt, label: holder.label } }, 'another run is running this task; waiting for it');
      },
    });
    try {
      // Outputs decide: check them again, since another run may have made them after this one planned.
      // A custom complete() (a wrapper: "my requirements are done") is trusted only after waiting here.
      const checkable = task.completeByOutputs ? task.outputList().length > 0 : waited;
      if (checkable && !ctx.rerun && (await task.complete())) {
        ctx.logger.info('task was completed by another run meanwhile; not running it again');
        this.options.onCompletedElsewhere?.(task.id);
        return;
      }
      const flowLock = this.options.flowLock;
      flowLock?.verify();
      lock.verify();
      const guard = () => {
        flowLock?.assertHeld();
        lock.assertHeld();
      };
      const locks = flowLock ? [flowLock, lock] : [lock];
      await runWithPublishGuard(guard, () => runWithAttemptLocks(locks, () => this.inner.execute(task, ctx)));
    } finally {
      await lock.release();
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
