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

/** Throws when the current attempt was aborted; a no-op outside any attempt. */
export function throwIfAttemptAborted(): void {
  if (attemptSignal.getStore()?.aborted) throw new CancelledError();
}
