/**
 * Data-parallel gradients in worker threads. Each worker holds a replica of
 * the model on its own TensorFlow.js instance (the wasm backend runs one
 * thread per instance, so this is how a second core gets used). A batch is
 * split into one contiguous shard per worker; each worker reads the current
 * parameters from shared memory, computes the mean gradient of its shard into
 * its own shared slot, and the main thread combines the slots, weighted by
 * shard size, into the mean gradient of the whole batch. The optimizer then
 * updates the shared parameters once, so all replicas stay identical.
 *
 * Worker script: from TypeScript source (ts-node, vitest) the worker is
 * started with an inline bootstrap that registers ts-node (transpile only)
 * and requires gradient-worker.ts; from compiled JavaScript it runs
 * gradient-worker.js directly.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import type { BatchResult, GradientEngine, StepTimings, TrainingData } from './gradient-engine';
import type { FromWorker, GradientWorkerData, ToWorker } from './gradient-worker-protocol';
import type { ModelHyperParameters } from '../mnist/model';
import type { BackendName } from '../tf/tf-backend';

/** Thrown when a gradient worker fails to start, throws, or exits. */
export class GradientWorkerError extends Error {
  readonly worker: number;

  constructor(worker: number, message: string, options?: { cause?: unknown }) {
    super(`gradient worker ${worker}: ${message}`, options);
    this.name = 'GradientWorkerError';
    this.worker = worker;
  }
}

/** The same values in shared memory (the array itself if already shared). */
export function toShared<T extends Float32Array | Uint8Array>(array: T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const buffer = new SharedArrayBuffer(array.byteLength);
  // Not array.constructor: a Node Buffer is a Uint8Array whose constructor is deprecated.
  const shared = array instanceof Float32Array ? new Float32Array(buffer) : new Uint8Array(buffer);
  shared.set(array);
  return shared as T;
}

function spawn(data: GradientWorkerData): Worker {
  const extension = path.extname(__filename);
  const entry = path.join(__dirname, `gradient-worker${extension}`);
  if (extension !== '.ts') return new Worker(entry, { workerData: data });
  const tsNode = require.resolve('ts-node');
  const options = { transpileOnly: true, compilerOptions: { module: 'commonjs', moduleResolution: 'node' } };
  const bootstrap = `require(${JSON.stringify(tsNode)}).register(${JSON.stringify(options)});\nrequire(${JSON.stringify(entry)});`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

interface Pending {
  resolve: (message: FromWorker) => void;
  reject: (error: Error) => void;
}

class WorkerHandle {
  readonly index: number;
  readonly worker: Worker;
  readonly ready: Promise<{ backend: BackendName; size: number }>;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  constructor(index: number, data: GradientWorkerData) {
    this.index = index;
    this.worker = spawn(data);
    this.ready = new Promise((resolve, reject) => this.pending.set(-1, { resolve: resolve as never, reject }));
    this.worker.on('message', (message: FromWorker) => {
      const id = message.type === 'ready' ? -1 : message.id ?? -1;
      const waiter = this.pending.get(id);
      this.pending.delete(id);
      if (message.type === 'error') {
        const error = new GradientWorkerError(index, message.message);
        if (message.stack !== undefined) error.stack = `${error.stack}\nCaused in the worker by: ${message.stack}`;
        if (waiter !== undefined) waiter.reject(error);
        else this.fail(error);
      } else {
        waiter?.resolve(message);
      }
    });
    this.worker.on('error', (error) => this.fail(new GradientWorkerError(index, error.message, { cause: error })));
    this.worker.on('exit', (code) => this.fail(new GradientWorkerError(index, `exited with code ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }

  request(message: ToWorker): Promise<FromWorker> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      this.worker.postMessage(message);
    });
  }

  async terminate(): Promise<void> {
    this.failure ??= new GradientWorkerError(this.index, 'terminated');
    await this.worker.terminate();
  }
}

/** Split 0..n-1 into `parts` contiguous ranges whose sizes differ by at most one. */
export function splitRange(n: number, parts: number): Array<{ start: number; count: number }> {
  const ranges = [];
  for (let k = 0, start = 0; k < parts; k++) {
    const count = Math.floor(n / parts) + (k < n % parts ? 1 : 0);
    ranges.push({ start, count });
    start += count;
  }
  return ranges;
}

export interface WorkerGradientEngineOptions {
  workers: number;
  model: ModelHyperParameters;
  /** Backend the workers must use; undefined: the best available. */
  backend: BackendName | undefined;
  data: TrainingData;
  initialParams: Float32Array;
}

export class WorkerGradientEngine implements GradientEngine {
  readonly workers: number;
  readonly params: Float32Array;
  readonly gradient: Float32Array;
  /** Backend the workers ended up with. */
  readonly backend: BackendName;
  private readonly slots: Float32Array[];
  private readonly handles: WorkerHandle[];
  private readonly valCount: number;
  private nextId = 0;

  private constructor(handles: WorkerHandle[], params: Float32Array, slots: Float32Array[], backend: BackendName, valCount: number) {
    this.workers = handles.length;
    this.handles = handles;
    this.params = params;
    this.slots = slots;
    this.gradient = new Float32Array(params.length);
    this.backend = backend;
    this.valCount = valCount;
  }

  /** Starts the workers and waits until each has built its replica. */
  static async start(options: WorkerGradientEngineOptions): Promise<WorkerGradientEngine> {
    const { workers, data } = options;
    if (!Number.isInteger(workers) || workers < 1) {
      throw new Error(`Expected \`workers\` to be a positive integer, got ${workers}`);
    }
    const size = options.initialParams.length;
    const params = toShared(Float32Array.from(options.initialParams));
    const shared = {
      trainImages: toShared(data.trainImages),
      trainLabels: toShared(data.trainLabels),
      valImages: toShared(data.valImages),
      valLabels: toShared(data.valLabels),
    };
    const slots = Array.from({ length: workers }, () => new Float32Array(new SharedArrayBuffer(size * 4)));
    const handles = slots.map(
      (gradient, index) => new WorkerHandle(index, { model: options.model, backend: options.backend, params, gradient, ...shared }),
    );
    try {
      const ready = await Promise.all(handles.map((handle) => handle.ready));
      for (const [index, info] of ready.entries()) {
        if (info.size !== size) {
          throw new GradientWorkerError(index, `model has ${info.size} parameters, expected ${size}`);
        }
      }
      return new WorkerGradientEngine(handles, params, slots, ready[0].backend, data.valLabels.length);
    } catch (error) {
      await Promise.all(handles.map((handle) => handle.terminate()));
      throw error;
    }
  }

  async computeGradients(batch: Int32Array): Promise<BatchResult> {
    const shards = splitRange(batch.length, this.workers);
    const replies = await Promise.all(
      shards.map(({ start, count }, k) =>
        this.handles[k].request({ type: 'gradients', id: this.nextId++, indices: batch.slice(start, start + count) }),
      ),
    );
    const { gradient } = this;
    gradient.fill(0);
    let loss = 0;
    let correct = 0;
    let slowest: StepTimings = { gatherMs: 0, uploadMs: 0, computeMs: 0 };
    for (const [k, reply] of replies.entries()) {
      if (reply.type !== 'gradients') throw new GradientWorkerError(k, `answered '${reply.type}' to a gradients request`);
      const weight = shards[k].count / batch.length;
      const slot = this.slots[k];
      for (let i = 0; i < gradient.length; i++) gradient[i] += weight * slot[i];
      loss += weight * reply.loss;
      correct += reply.correct;
      if (reply.timings.computeMs > slowest.computeMs) slowest = reply.timings;
    }
    return { loss, correct, timings: slowest };
  }

  async predictValidation(): Promise<Uint8Array> {
    const shards = splitRange(this.valCount, this.workers);
    const replies = await Promise.all(
      shards.map(({ start, count }, k) => this.handles[k].request({ type: 'predict', id: this.nextId++, start, count })),
    );
    const predictions = new Uint8Array(this.valCount);
    for (const [k, reply] of replies.entries()) {
      if (reply.type !== 'predict') throw new GradientWorkerError(k, `answered '${reply.type}' to a predict request`);
      predictions.set(reply.predictions, shards[k].start);
    }
    return predictions;
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((handle) => handle.terminate()));
  }
}
