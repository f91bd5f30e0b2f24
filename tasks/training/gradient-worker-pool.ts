/**
 * Data-parallel training in worker threads. Each worker holds a replica of
 * the model on its own TensorFlow.js instance (the wasm backend runs one
 * thread per instance, so this is how a second core gets used), built from
 * the model's topology. Parameters, Adam's state and one gradient slot per
 * worker live in shared memory; the main thread hands each worker a whole
 * epoch, and the workers run its steps together (epoch-runner.ts), meeting
 * at barriers in shared memory, so nothing per step goes through the main
 * thread. Measured on 2 cores: the old design (main thread averaging the
 * slots and stepping Adam between per-batch messages) spent 5-6 ms of every
 * 57 ms step with both workers idle.
 *
 * Worker script: from TypeScript source (ts-node, vitest) the worker is
 * started with an inline bootstrap that registers ts-node (transpile only)
 * and requires gradient-worker.ts; from compiled JavaScript it runs
 * gradient-worker.js directly.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import type * as tfjs from '@tensorflow/tfjs';

import { DagwrightError } from '../../src';

import { type EpochPlan, splitRange, STAT_FIELDS, stepsPerEpoch, type TrainingData, type TrainingState } from './epoch-runner';
import { combineSlots, type EpochProgress, type EpochRequest, type EpochSummary, type GradientEngine, summarizeEpoch } from './gradient-engine';
import type { FromWorker, GradientWorkerData, ToWorker } from './gradient-worker-protocol';
import { ModelReplica } from './model-replica';
import { barrierGeneration, clearStop, markFailed, newControl, requestStop } from './step-barrier';
import type { BackendName, TensorFlow } from '../tf/tf-backend';
import { TrainingInputError, TrainingInternalError } from './errors';

/**
 * Thrown when a gradient worker fails to start, throws, or exits. The
 * message carries the worker's own error (its stack is appended to this
 * error's); a worker that ran out of memory or was killed may succeed on
 * another attempt, so the error is retryable.
 */
export class GradientWorkerError extends DagwrightError {
  override readonly retryable = true;
  readonly worker: number;
  /** True when the worker only stopped because another one failed first. */
  readonly peer: boolean;

  constructor(worker: number, message: string, options?: { cause?: unknown; peer?: boolean }) {
    super(`gradient worker ${worker}: ${message}`, options);
    this.worker = worker;
    this.peer = options?.peer ?? false;
  }
}

type SharedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** The same values in shared memory (the array itself if already shared). */
export function toShared<T extends SharedArray>(array: T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const buffer = new SharedArrayBuffer(array.byteLength);
  // Not array.constructor: a Node Buffer is a Uint8Array whose constructor is deprecated.
  const shared =
    array instanceof Float32Array
      ? new Float32Array(buffer)
      : array instanceof Float64Array
        ? new Float64Array(buffer)
        : array instanceof Int32Array
          ? new Int32Array(buffer)
          : new Uint8Array(buffer);
  shared.set(array);
  return shared as T;
}

const sharedFloats = (n: number) => new Float32Array(new SharedArrayBuffer(n * 4));

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
  private readonly onFailure: () => void;

  constructor(index: number, data: GradientWorkerData, onFailure: () => void) {
    this.index = index;
    this.onFailure = onFailure;
    this.worker = spawn(data);
    this.ready = new Promise((resolve, reject) => this.pending.set(-1, { resolve: resolve as never, reject }));
    this.worker.on('message', (message: FromWorker) => {
      const id = message.type === 'ready' ? -1 : message.id ?? -1;
      const waiter = this.pending.get(id);
      this.pending.delete(id);
      if (message.type === 'error') {
        const error = new GradientWorkerError(index, message.message, { peer: message.peer });
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
    this.onFailure();
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

export interface WorkerGradientEngineOptions {
  workers: number;
  /** The model to train: workers build replicas from its topology and start from its weights. */
  model: tfjs.LayersModel;
  tf: TensorFlow;
  /** Backend the workers must use; undefined: the best available. */
  backend: BackendName | undefined;
  data: TrainingData;
}

export class WorkerGradientEngine implements GradientEngine {
  readonly workers: number;
  readonly params: Float32Array;
  /** Backend the workers ended up with. */
  readonly backend: BackendName;
  private readonly state: TrainingState;
  private readonly handles: WorkerHandle[];
  private readonly valCount: number;
  private last: { plan: EpochPlan; steps: number } | undefined;
  private nextId = 0;

  private constructor(handles: WorkerHandle[], state: TrainingState, backend: BackendName, valCount: number) {
    this.workers = handles.length;
    this.handles = handles;
    this.state = state;
    this.params = state.params;
    this.backend = backend;
    this.valCount = valCount;
  }

  /** Starts the workers and waits until each has built its replica. */
  static async start(options: WorkerGradientEngineOptions): Promise<WorkerGradientEngine> {
    const { workers, data, model, tf } = options;
    if (!Number.isInteger(workers) || workers < 1) {
      throw new TrainingInputError(`Expected \`workers\` to be a positive integer, got ${workers}`);
    }
    const replica = new ModelReplica(tf, model);
    const size = replica.size;
    const state: TrainingState = {
      params: sharedFloats(size),
      m: sharedFloats(size),
      v: sharedFloats(size),
      slots: Array.from({ length: workers }, () => sharedFloats(size)),
      control: newControl(true),
    };
    replica.readParams(state.params);
    const shared: TrainingData = {
      trainImages: toShared(data.trainImages),
      trainLabels: toShared(data.trainLabels),
      valImages: toShared(data.valImages),
      valLabels: toShared(data.valLabels),
    };
    const modelTopology = JSON.stringify(model.toJSON(undefined, false));
    const handles = Array.from(
      { length: workers },
      (_, index) =>
        new WorkerHandle(index, { modelTopology, backend: options.backend, index, workers, state, ...shared }, () => markFailed(state.control)),
    );
    try {
      const ready = await Promise.all(handles.map((handle) => handle.ready));
      for (const [index, info] of ready.entries()) {
        if (info.size !== size) {
          throw new GradientWorkerError(index, `model has ${info.size} parameters, expected ${size}`);
        }
      }
      return new WorkerGradientEngine(handles, state, ready[0].backend, data.valLabels.length);
    } catch (error) {
      await Promise.all(handles.map((handle) => handle.terminate()));
      throw error;
    }
  }

  async runEpoch(request: EpochRequest, signal?: AbortSignal, progress?: EpochProgress): Promise<EpochSummary> {
    signal?.throwIfAborted();
    const steps = stepsPerEpoch(request.order.length, request.batchSize);
    const plan: EpochPlan = {
      ...request,
      order: toShared(request.order),
      learningRates: toShared(request.learningRates),
      stats: new Float64Array(new SharedArrayBuffer(steps * this.workers * STAT_FIELDS * 8)),
    };
    const { control } = this.state;
    clearStop(control);
    const onAbort = () => requestStop(control);
    signal?.addEventListener('abort', onAbort);
    const watch = progress && this.watchSteps(plan, progress);
    let replies: PromiseSettledResult<FromWorker>[];
    try {
      replies = await Promise.allSettled(this.handles.map((handle) => handle.request({ type: 'epoch', id: this.nextId++, plan })));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      clearInterval(watch);
    }
    const failures = replies.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failures.length > 0) {
      markFailed(control);
      throw failures.find((e) => !(e instanceof GradientWorkerError && e.peer)) ?? failures[0];
    }
    const run = (replies[0] as PromiseFulfilledResult<FromWorker & { type: 'epoch' }>).value.steps;
    this.last = { plan, steps: run };
    signal?.throwIfAborted();
    return summarizeEpoch(plan, run, this.workers);
  }

  /** Reports the steps the workers finished, read from the barrier's generation (each step passes it twice). */
  private watchSteps(plan: EpochPlan, progress: EpochProgress): NodeJS.Timeout {
    const start = barrierGeneration(this.state.control);
    let reported = 0;
    const timer = setInterval(() => {
      const done = Math.floor((barrierGeneration(this.state.control) - start) / 2);
      if (done > reported) progress.report(summarizeEpoch(plan, (reported = done), this.workers));
    }, progress.everyMs);
    timer.unref();
    return timer;
  }

  lastGradient(): Float32Array {
    if (this.last === undefined) throw new TrainingInternalError('No step has run yet');
    const { plan, steps } = this.last;
    const batchCount = Math.min(plan.batchSize, plan.order.length - (steps - 1) * plan.batchSize);
    const counts = splitRange(batchCount, this.workers).map((shard) => shard.count);
    return combineSlots(this.state.slots, counts, batchCount);
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
