/**
 * The server's side of the prediction worker (predict-worker.ts): loads,
 * predicts and disposes versions of any format by message, one promise per
 * request. From
 * TypeScript source (a checkout, vitest) the worker starts with an inline
 * bootstrap that registers the project's own TypeScript hook
 * (src/bootstrap/register.js, as `dagwright` does): it reads the cached
 * JavaScript without loading the compiler, and unlike ts-node it does not
 * load node's REPL and with it the domain module, which wraps every event
 * the thread emits.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FromPredictWorker, PredictWorkerData, ToPredictWorker } from './predict-worker-protocol';
import { PredictorError } from '../errors';

type Request = ToPredictWorker extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

function spawn(data: PredictWorkerData): Worker {
  const extension = path.extname(__filename);
  const entry = path.join(__dirname, `predict-worker${extension}`);
  if (extension !== '.ts') return new Worker(entry, { workerData: data });
  const register = path.join(__dirname, '..', '..', '..', 'src', 'bootstrap', 'register.js');
  const bootstrap = `require(${JSON.stringify(register)});\nrequire(${JSON.stringify(entry)});`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

/** Where predictions run: a worker thread (`PredictThread`) or this thread (`InlinePredictor`). */
export interface Predictor {
  /** Loads a registry version under `key`; resolves with its input and output shapes. */
  load(key: string, store: string, model: string, version: number): Promise<{ inputShape: (number | null)[]; outputShape: (number | null)[] }>;
  /** Class probabilities for `count` items; `features` may be handed over (do not use it afterwards). */
  predict(key: string, features: Float32Array, count: number): Promise<Float32Array>;
  dispose(key: string): Promise<void>;
  close(): Promise<void>;
}

export class PredictThread implements Predictor {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (m: FromPredictWorker) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(data: PredictWorkerData = {}) {
    this.worker = spawn(data);
    this.worker.on('message', (message: FromPredictWorker) => {
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'error') waiting?.reject(new PredictorError(message.message));
      else waiting?.resolve(message);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new PredictorError(`the prediction worker exited (code ${code})`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }

  private call(request: Request, transfer: ArrayBuffer[] = []): Promise<FromPredictWorker> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  /** Loads a registry version under `key`; resolves with its input and output shapes. */
  async load(key: string, store: string, model: string, version: number): Promise<{ inputShape: (number | null)[]; outputShape: (number | null)[] }> {
    const reply = await this.call({ type: 'load', key, store, model, version });
    if (reply.type !== 'loaded') throw new PredictorError(`unexpected reply ${reply.type} to load`);
    return reply;
  }

  /** Class probabilities for `count` items; `features` is handed over to the worker (do not use it afterwards). */
  async predict(key: string, features: Float32Array, count: number): Promise<Float32Array> {
    const transfer = features.byteLength === features.buffer.byteLength ? [features.buffer as ArrayBuffer] : [];
    const reply = await this.call({ type: 'predict', key, features, count }, transfer);
    if (reply.type !== 'result') throw new PredictorError(`unexpected reply ${reply.type} to predict`);
    return reply.probabilities;
  }

  async dispose(key: string): Promise<void> {
    await this.call({ type: 'dispose', key }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.failure ??= new PredictorError('the prediction worker was stopped');
    await this.worker.terminate();
  }
}
