/**
 * Adaptive batching: requests that arrive close together are run as one
 * model call, up to `maxBatchSize` items, waiting at most `maxWaitMs` for
 * company (0: only what arrived in the same turn of the event loop, which
 * adds no latency). While the model is busy with one call the next batch
 * fills by itself; a second call starts beside it only with a full batch.
 * So a runtime in another thread finds a full batch waiting when it
 * finishes one (it does not idle until this thread, busy with requests,
 * gets round to the answer), and small batches never queue behind a call.
 * Each request gets back exactly its own
 * rows: a batch is a list of (offset, count) slices, and each reply is cut
 * from its slice.
 */
import { ServeOptionError } from '../errors';

export interface BatchingOptions {
  /** Items per model call; 1 turns batching off. Default 1 here; the server's default is `DEFAULT_BATCHING`. */
  readonly maxBatchSize?: number;
  /** How long the first request of a batch may wait for others. Default 0. */
  readonly maxWaitMs?: number;
}

/** The server's batching unless told otherwise: up to 64 images per call, no added wait (measured: 3-4x the requests/s of no batching at 64 clients). */
export const DEFAULT_BATCHING = { maxBatchSize: 64, maxWaitMs: 0 } as const;

/** Throws a `RangeError` naming the option when batching options are out of range. */
export function checkBatching(options: BatchingOptions): void {
  const { maxBatchSize = 1, maxWaitMs = 0 } = options;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new ServeOptionError(`Expected \`maxBatchSize\` to be a whole number >= 1, got \`${maxBatchSize}\``);
  if (!(maxWaitMs >= 0)) throw new ServeOptionError(`Expected \`maxWaitMs\` to be a number >= 0, got \`${maxWaitMs}\``);
}

interface Pending {
  readonly features: Float32Array;
  readonly count: number;
  readonly resolve: (rows: Float32Array) => void;
  readonly reject: (err: unknown) => void;
}

/** Model calls at once: one, and a second with a full batch. */
const MAX_CALLS = 2;

/** Runs `predict` on batched inputs; `outputSize` values come back per item. */
export class AdaptiveBatcher {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  private queue: Pending[] = [];
  private queuedItems = 0;
  private scheduled: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private calls = 0;

  constructor(
    private readonly predict: (features: Float32Array, count: number) => Promise<Float32Array>,
    private readonly itemSize: number,
    private readonly outputSize: number,
    options: BatchingOptions = {},
    /** Told the size of every model call (for metrics). */
    private readonly onBatch: (count: number) => void = () => undefined,
  ) {
    checkBatching(options);
    this.maxBatchSize = options.maxBatchSize ?? 1;
    this.maxWaitMs = options.maxWaitMs ?? 0;
  }

  /** Items waiting for a model call. */
  get waiting(): number {
    return this.queuedItems;
  }

  /** The class probabilities of `count` items (`count * outputSize` values). */
  run(features: Float32Array, count: number): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ features, count, resolve, reject });
      this.queuedItems += count;
      this.schedule(this.maxBatchSize === 1 || this.queuedItems >= this.maxBatchSize);
    });
  }

  private schedule(now: boolean): void {
    if (this.scheduled && !now) return;
    this.cancel();
    this.scheduled = now || this.maxWaitMs === 0 ? setImmediate(() => this.flush()) : setTimeout(() => this.flush(), this.maxWaitMs);
  }

  private cancel(): void {
    if (this.scheduled === undefined) return;
    clearTimeout(this.scheduled as NodeJS.Timeout);
    clearImmediate(this.scheduled as NodeJS.Immediate);
    this.scheduled = undefined;
  }

  private flush(): void {
    this.scheduled = undefined;
    while (this.queue.length > 0 && (this.calls === 0 || (this.calls < MAX_CALLS && this.queuedItems >= this.maxBatchSize))) {
      this.calls++;
      void this.runBatch(this.take()).finally(() => {
        this.calls--;
        this.flush();
      });
    }
  }

  // Requests in arrival order, as many as fit in one call (always at least one).
  private take(): Pending[] {
    const batch: Pending[] = [];
    let items = 0;
    while (this.queue.length > 0 && (batch.length === 0 || items + this.queue[0].count <= this.maxBatchSize)) {
      const next = this.queue.shift()!;
      batch.push(next);
      items += next.count;
    }
    this.queuedItems -= items;
    return batch;
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const total = batch.reduce((n, p) => n + p.count, 0);
    let rows: Float32Array;
    try {
      let features = batch[0].features;
      if (batch.length > 1) {
        features = new Float32Array(total * this.itemSize);
        let offset = 0;
        for (const p of batch) {
          features.set(p.features, offset);
          offset += p.count * this.itemSize;
        }
      }
      this.onBatch(total);
      rows = await this.predict(features, total);
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    let offset = 0;
    for (const p of batch) {
      p.resolve(rows.subarray(offset, offset + p.count * this.outputSize));
      offset += p.count * this.outputSize;
    }
  }

  /** Starts whatever waits now, without waiting for more (before a swap retires the model, or at shutdown). */
  drain(): void {
    this.cancel();
    this.flush();
  }
}
