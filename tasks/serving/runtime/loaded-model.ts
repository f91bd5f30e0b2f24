/**
 * One registry version loaded in the predictor (worker or inline), checked and warmed,
 * ready to predict. Requests hold it while they run (`acquire`/`release`),
 * so a version that is swapped out is disposed only when its last request
 * has finished.
 */
import type { ModelRegistry, ModelVersion } from '../../registry/registry';
import { ModelLoadError, ModelOutputError, PredictorError } from '../errors';
import { imageClassifierFitting } from './image-adapter';
import { type ModelSignature, readSignature, SIGNATURE_JSON } from '../../onnx/signature';
import type { ModelAdapter } from './model-adapter';
import type { Predictor } from './predict-thread';

let loads = 0;

export class LoadedModel {
  private holders = 0;
  private retired = false;
  private disposed = false;

  constructor(
    readonly record: ModelVersion,
    private readonly thread: Predictor,
    private readonly key: string,
    readonly adapter: ModelAdapter,
    /** The version's signature.json when it has one (ONNX versions): its class labels and the model's own input. */
    readonly signature?: ModelSignature,
  ) {}

  get version(): number {
    return this.record.version;
  }

  /** Class probabilities for `count` items, `count * classes` values. `features` is handed to the worker. */
  predict(features: Float32Array, count: number): Promise<Float32Array> {
    if (this.disposed) return Promise.reject(new PredictorError(`version ${this.version} was disposed while a request still used it`));
    return this.thread.predict(this.key, features, count);
  }

  acquire(): void {
    this.holders++;
  }

  release(): void {
    this.holders--;
    if (this.retired && this.holders === 0) this.dispose();
  }

  /** Swapped out: disposed now if idle, else when the last holder releases it. */
  retire(): void {
    this.retired = true;
    if (this.holders === 0) this.dispose();
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.thread.dispose(this.key);
  }
}

/** Runs every batch size once and checks the outputs are probabilities; throws the reason otherwise. */
async function warm(loaded: LoadedModel, batchSizes: readonly number[]): Promise<void> {
  const { adapter } = loaded;
  for (const size of batchSizes) {
    const probabilities = await loaded.predict(new Float32Array(size * adapter.itemSize).fill(0.5), size);
    if (probabilities.length !== size * adapter.classes) throw new ModelOutputError(`a batch of ${size} gave ${probabilities.length} outputs, expected ${size * adapter.classes}`);
    for (let i = 0; i < size; i++) {
      let sum = 0;
      for (let c = 0; c < adapter.classes; c++) sum += probabilities[i * adapter.classes + c];
      if (!(Math.abs(sum - 1) < 1e-3)) throw new ModelOutputError(`its outputs are not class probabilities (item ${i} sums to ${sum})`);
    }
  }
}

/**
 * Loads version `n` in the worker, checks it fits the adapter (none given: the image classifier
 * its shapes describe) and warms it; throws `ModelLoadError` when it cannot serve.
 */
export async function loadVersion(thread: Predictor, registry: ModelRegistry, n: number, given: ModelAdapter | undefined, warmBatchSizes: readonly number[]): Promise<LoadedModel> {
  const key = `${registry.model}@${n}#${++loads}`;
  let record: ModelVersion;
  let shapes: { inputShape: (number | null)[]; outputShape: (number | null)[] };
  let signature: ModelSignature | undefined;
  try {
    record = await registry.version(n);
    shapes = await thread.load(key, String(registry.store), registry.model, n);
    const signatureFile = SIGNATURE_JSON in record.files ? registry.filesOf(n).file(SIGNATURE_JSON) : undefined;
    signature = signatureFile && readSignature(await signatureFile.readBytes(), signatureFile.uri);
  } catch (err) {
    throw new ModelLoadError(registry.model, n, `it could not be loaded (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const adapter = given ?? imageClassifierFitting(shapes.inputShape, shapes.outputShape);
  const problem = typeof adapter === 'string' ? adapter : adapter.incompatibility(shapes.inputShape, shapes.outputShape);
  if (typeof adapter === 'string' || problem) {
    void thread.dispose(key);
    throw new ModelLoadError(registry.model, n, problem!);
  }
  const loaded = new LoadedModel(record, thread, key, adapter, signature);
  try {
    await warm(loaded, warmBatchSizes);
  } catch (err) {
    loaded.retire();
    throw new ModelLoadError(registry.model, n, `it failed to warm up: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return loaded;
}
