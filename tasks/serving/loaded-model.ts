/**
 * One registry version in memory, checked and warmed, ready to predict.
 * Requests hold it while they run (`acquire`/`release`), so a version that
 * is swapped out is disposed only when its last request has finished.
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { ModelRegistry, ModelVersion } from '../registry/registry';
import type { TensorFlow } from '../tf/tf-backend';
import { loadModelFrom } from '../training/model-io';
import { ModelLoadError } from './errors';
import type { ModelAdapter } from './model-adapter';

export class LoadedModel {
  private holders = 0;
  private retired = false;
  private disposed = false;

  constructor(
    readonly record: ModelVersion,
    private readonly tf: TensorFlow,
    private readonly model: tfjs.LayersModel,
    readonly adapter: ModelAdapter,
  ) {}

  get version(): number {
    return this.record.version;
  }

  /** Class probabilities for `count` items, `count * classes` values. Synchronous: the backend runs on this thread. */
  predict(features: Float32Array, count: number): Float32Array {
    if (this.disposed) throw new Error(`version ${this.version} was disposed while a request still used it`);
    const { tf, model, adapter } = this;
    return tf.tidy(() => {
      const output = model.predict(tf.tensor(features, [count, ...adapter.itemShape], 'float32')) as tfjs.Tensor;
      return output.dataSync() as Float32Array;
    });
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
    this.model.dispose();
  }
}

/** Runs every batch size once and checks the outputs are probabilities; throws the reason otherwise. */
function warm(loaded: LoadedModel, batchSizes: readonly number[]): void {
  const { adapter } = loaded;
  for (const size of batchSizes) {
    const probabilities = loaded.predict(new Float32Array(size * adapter.itemSize).fill(0.5), size);
    if (probabilities.length !== size * adapter.classes) throw new Error(`a batch of ${size} gave ${probabilities.length} outputs, expected ${size * adapter.classes}`);
    for (let i = 0; i < size; i++) {
      let sum = 0;
      for (let c = 0; c < adapter.classes; c++) sum += probabilities[i * adapter.classes + c];
      if (!(Math.abs(sum - 1) < 1e-3)) throw new Error(`its outputs are not class probabilities (item ${i} sums to ${sum})`);
    }
  }
}

/** Loads version `n` from the registry, checks it fits the adapter and warms it; throws `ModelLoadError` when it cannot serve. */
export async function loadVersion(tf: TensorFlow, registry: ModelRegistry, n: number, adapter: ModelAdapter, warmBatchSizes: readonly number[]): Promise<LoadedModel> {
  let record: ModelVersion;
  let model: tfjs.LayersModel;
  try {
    record = await registry.version(n);
    model = await loadModelFrom(tf, registry.filesOf(n));
  } catch (err) {
    throw new ModelLoadError(registry.model, n, `it could not be loaded (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const problem = adapter.incompatibility(model.inputs[0].shape, (model.outputs[0].shape as (number | null)[]) ?? []);
  if (problem) {
    model.dispose();
    throw new ModelLoadError(registry.model, n, problem);
  }
  const loaded = new LoadedModel(record, tf, model, adapter);
  try {
    warm(loaded, warmBatchSizes);
  } catch (err) {
    loaded.retire();
    throw new ModelLoadError(registry.model, n, `it failed to warm up: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return loaded;
}
