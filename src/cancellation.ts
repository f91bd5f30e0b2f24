import { AsyncLocalStorage } from 'node:async_hooks';
import { CancelledError } from './errors';

/**
 * The abort signal of the task attempt running in this async context. Targets
 * consult it just before publishing a write, so a task that keeps writing
 * after it was cancelled or timed out never makes a file visible.
 */
const attemptSignal = new AsyncLocalStorage<AbortSignal>();

export function runWithSignal<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  return attemptSignal.run(signal, fn);
}

/**
 * Checks that run right before each publish in this async context, besides
 * the abort signal: a run's locks (see TaskLockingExecutor) throw here once
 * they are lost, so a resumed, frozen process publishes nothing.
 */
const publishGuard = new AsyncLocalStorage<() => void>();

/** Runs `fn` with `guard` called before every publish inside it (after any outer guard). */
export function runWithPublishGuard<T>(guard: () => void, fn: () => Promise<T>): Promise<T> {
  const outer = publishGuard.getStore();
  const combined = outer
    ? () => {
        outer();
        guard();
      }
    : guard;
  return publishGuard.run(combined, fn);
}

/**
 * Runs `fn` outside any attempt: no abort signal and no publish guard apply
 * to its writes. For a run's own records (history, logs), which are written
 * even after a cancel or a lost lock.
 */
export function runOutsideAttempt<T>(fn: () => Promise<T>): Promise<T> {
  return publishGuard.exit(() => attemptSignal.exit(fn));
}

/** Throws when the current attempt was aborted, or a publish guard refuses; a no-op outside any attempt. */
export function throwIfAttemptAborted(): void {
  if (attemptSignal.getStore()?.aborted) throw new CancelledError();
  publishGuard.getStore()?.();
}

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
