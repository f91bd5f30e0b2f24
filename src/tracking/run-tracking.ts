import type { Store } from '../store/store';
import type { Logger } from 'pino';
import { StoreTracking, type StoreTrackingOptions } from './store-tracking';

/**
 * The tracking of one run: hands out a `StoreTracking` per task attempt
 * (the `tracking` hook of `run()`) and flushes them all at the end.
 */
export class RunTracking {
  private readonly attempts = new Map<string, StoreTracking>();

  constructor(
    readonly store: Store,
    readonly runId: string,
    private readonly logger?: Logger,
    private readonly options: StoreTrackingOptions = {},
  ) {}

  /** The tracking of `taskId`'s attempt `attempt` (the same object when asked again). */
  forTask(taskId: string, attempt: number): StoreTracking {
    const key = `${attempt}\0${taskId}`;
    let tracking = this.attempts.get(key);
    if (!tracking) {
      tracking = new StoreTracking(this.store, this.runId, taskId, attempt, this.logger, this.options);
      this.attempts.set(key, tracking);
    }
    return tracking;
  }

  /** Writes everything pending. */
  async flush(): Promise<void> {
    await Promise.all([...this.attempts.values()].map((t) => t.flush()));
  }
}
