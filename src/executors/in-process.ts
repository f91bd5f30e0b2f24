import { runWithSignal } from '../cancellation';
import { CancelledError } from '../errors';
import type { Executor } from '../executor';
import type { AnyTask, TaskContext } from '../task';

/** Rejects once `signal` aborts, with its reason. */
export function abortion(signal: AbortSignal): { promise: Promise<never>; dispose: () => void } {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new CancelledError());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/**
 * Runs `task.run()` in this process: the embedded default. A task that
 * ignores its abort signal keeps running in the background, but its writes
 * are never published (see cancellation.ts).
 */
export class InProcessExecutor implements Executor {
  readonly name = 'inprocess';

  async execute(task: AnyTask, ctx: TaskContext): Promise<void> {
    const aborted = abortion(ctx.signal);
    try {
      await Promise.race([runWithSignal(ctx.signal, () => task.run(ctx)), aborted.promise]);
    } finally {
      aborted.dispose();
    }
  }

  async close(): Promise<void> {}
}
