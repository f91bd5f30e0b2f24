/**
 * A reusable barrier for the threads of a data-parallel training step, over
 * an Int32Array in shared memory (Atomics), so threads meet twice per step
 * without a round trip through the main thread's event loop. The same
 * array carries the stop request (set by the main thread on abort) and a
 * failure flag: a thread that fails, or the main thread seeing a worker die,
 * sets it and wakes everyone, so no thread waits forever for a dead peer.
 */
import { DagwrightError } from '../../src/public/errors';

/** Word indices in the control array. */
const ARRIVED = 0;
const GENERATION = 1;
const STOP_REQUESTED = 2;
const STOP_DECIDED = 3;
const FAILED = 4;
export const CONTROL_WORDS = 5;

/** Thrown in a thread waiting at the barrier when another thread failed. Retryable, as that thread's own failure is. */
export class PeerFailedError extends DagwrightError {
  override readonly retryable = true;
  constructor() {
    super('another training thread failed; this one stopped waiting for it');
  }
}

/** A control array in shared memory (or plain memory for a single thread). */
export function newControl(shared: boolean): Int32Array {
  return new Int32Array(shared ? new SharedArrayBuffer(CONTROL_WORDS * 4) : new ArrayBuffer(CONTROL_WORDS * 4));
}

export class StepBarrier {
  constructor(
    private readonly control: Int32Array,
    private readonly parties: number,
  ) {}

  /** Blocks until all parties arrived (never blocks with one party). */
  wait(): void {
    const { control } = this;
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.add(control, ARRIVED, 1) === this.parties - 1) {
      Atomics.store(control, ARRIVED, 0);
      Atomics.add(control, GENERATION, 1);
      if (this.parties > 1) Atomics.notify(control, GENERATION);
      return;
    }
    while (Atomics.load(control, GENERATION) === generation) {
      if (Atomics.load(control, FAILED) !== 0) throw new PeerFailedError();
      Atomics.wait(control, GENERATION, generation, 100);
    }
  }

  /**
   * Called by one party between the two barriers of a step: turns a pending
   * stop request into the decision every party reads after the second one.
   */
  decideStop(): void {
    Atomics.store(this.control, STOP_DECIDED, Atomics.load(this.control, STOP_REQUESTED));
  }

  /** Whether the parties agreed to stop (read after the step's last barrier). */
  stopDecided(): boolean {
    return Atomics.load(this.control, STOP_DECIDED) !== 0;
  }
}

/** How many times the barrier has opened (twice per step), for watching progress from another thread. */
export function barrierGeneration(control: Int32Array): number {
  return Atomics.load(control, GENERATION);
}

/** Asks the threads to stop after their current step. */
export function requestStop(control: Int32Array): void {
  Atomics.store(control, STOP_REQUESTED, 1);
}

/** Clears a stop request and decision (before a new epoch). */
export function clearStop(control: Int32Array): void {
  Atomics.store(control, STOP_REQUESTED, 0);
  Atomics.store(control, STOP_DECIDED, 0);
}

/** Marks the step as failed and wakes every waiting thread. */
export function markFailed(control: Int32Array): void {
  Atomics.store(control, FAILED, 1);
  if (control.buffer instanceof SharedArrayBuffer) Atomics.notify(control, GENERATION);
}
