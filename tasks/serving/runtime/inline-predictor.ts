/**
 * Prediction on the server's own thread: the same interface as the worker
 * (predict-thread.ts), without a second TensorFlow.js instance. Uses less
 * memory; requests are not parsed while a batch is predicted.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { ModelRegistry } from '../../registry/registry';
import { type BackendName, loadTensorFlow, type LoadedTensorFlow } from '../../tf/tf-backend';
import { loadModelFrom } from '../../training/model-io';
import type { Predictor } from './predict-thread';
import { PredictorError } from '../errors';

/** One item's shape as the model takes it (its input shape without the batch dimension): requests are reshaped to it. */
export function itemShapeOf(model: tfjs.LayersModel): number[] {
  return model.inputs[0].shape.slice(1).map((d) => d ?? 1);
}

export class InlinePredictor implements Predictor {
  private readonly ready: Promise<LoadedTensorFlow>;
  private readonly models = new Map<string, { model: tfjs.LayersModel; itemShape: readonly number[] }>();

  constructor(backend?: BackendName) {
    this.ready = loadTensorFlow({ backend });
  }

  async load(key: string, store: string, model: string, version: number) {
    const { tf } = await this.ready;
    const loaded = await loadModelFrom(tf, new ModelRegistry(store, model).filesOf(version));
    this.models.set(key, { model: loaded, itemShape: itemShapeOf(loaded) });
    return { inputShape: loaded.inputs[0].shape, outputShape: (loaded.outputs[0].shape ?? []) as (number | null)[] };
  }

  async predict(key: string, features: Float32Array, count: number): Promise<Float32Array> {
    const { tf } = await this.ready;
    const entry = this.models.get(key);
    if (!entry) throw new PredictorError(`no model loaded under ${key}`);
    // The tensor, not its values, leaves tidy: tidy walks whatever it returns, and 64x10 numbers cost more to walk than one tensor.
    const output = tf.tidy(() => entry.model.predict(tf.tensor(features, [count, ...entry.itemShape], 'float32')) as tfjs.Tensor);
    try {
      return output.dataSync() as Float32Array;
    } finally {
      output.dispose();
    }
  }

  async dispose(key: string): Promise<void> {
    this.models.get(key)?.model.dispose();
    this.models.delete(key);
  }

  async close(): Promise<void> {
    for (const key of [...this.models.keys()]) await this.dispose(key);
  }
}
