import { setTimeout as sleep } from 'node:timers/promises';
import { abortion, runWithSignal } from '../cancellation';
import type { Executor } from '../executor';
import type { AnyTask, TaskContext } from '../task';

/** How long an aborted run() gets to finish its clean-up (remove temporary files) before the attempt ends anyway. */
const abortGraceMs = 2_000;

/**
 * Runs `task.run()` in this process: the embedded default (also inside a
 * container step), and keeps what it returns in `ctx.results`. A task that
 * ignores its abort signal keeps running in the background, but its writes
 * are never published (see cancellation.ts).
 */
export class InProcessExecutor implements Executor {
  readonly name = 'inprocess';

  async execute(task: AnyTask, ctx: TaskContext): Promise<void> {
    const aborted = abortion(ctx.signal);
    // The result is kept within the attempt (a cancelled one publishes nothing) and before it counts as done.
    const running = runWithSignal(ctx.signal, async () => ctx.results.keep(task.id, await task.run(ctx)));
    try {
      await Promise.race([running, aborted.promise]);
    } catch (err) {
      if (ctx.signal.aborted) await Promise.race([running.catch(() => {}), sleep(abortGraceMs, undefined, { ref: false })]);
      throw err;
    } finally {
      aborted.dispose();
    }
  }

  async close(): Promise<void> {}
}
