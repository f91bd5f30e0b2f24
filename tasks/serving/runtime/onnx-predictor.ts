/**
 * Prediction with ONNX Runtime for registry versions that hold `model.onnx`
 * and `signature.json`. `session.run` computes on the calling thread (with
 * `threads - 1` helpers) and blocks it until done: the server runs this
 * predictor in its worker thread (model-runtimes.ts).
 */
import { ModelRegistry } from '../../registry/registry';
import { DEFAULT_ONNX_THREADS, OnnxClassifier, type OnnxSessionOptions } from '../../onnx/onnx-classifier';
import type { Predictor } from './predict-thread';
import { PredictorError } from '../errors';

export class OnnxPredictor implements Predictor {
  private readonly models = new Map<string, OnnxClassifier>();

  constructor(private readonly session: OnnxSessionOptions = { threads: DEFAULT_ONNX_THREADS }) {}

  async load(key: string, store: string, model: string, version: number) {
    const classifier = await OnnxClassifier.openIn(new ModelRegistry(store, model).filesOf(version), this.session);
    this.models.set(key, classifier);
    const { height, width, channels } = classifier.geometry;
    // In the adapter's terms (NHWC): the classifier converts to the model's own layout and scaling.
    return { inputShape: [null, height, width, channels], outputShape: [null, classifier.classes] };
  }

  async predict(key: string, features: Float32Array, count: number): Promise<Float32Array> {
    const classifier = this.models.get(key);
    if (!classifier) throw new PredictorError(`no model loaded under ${key}`);
    return (await classifier.predict(features, count)).probabilities;
  }

  async dispose(key: string): Promise<void> {
    const classifier = this.models.get(key);
    this.models.delete(key);
    await classifier?.release();
  }

  async close(): Promise<void> {
    for (const key of [...this.models.keys()]) await this.dispose(key);
  }
}
