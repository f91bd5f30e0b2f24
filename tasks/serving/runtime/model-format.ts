/**
 * Which runtime serves a registry version, by its files: ONNX Runtime when
 * it holds `model.onnx` and `signature.json` (models registered from any
 * framework, and TF.js models registered with their export), TensorFlow.js
 * otherwise. `ModelFormatPredictor` routes each loaded version to its
 * runtime, so the server swaps between formats like between versions;
 * model-runtimes.ts decides which thread each runtime runs on.
 */
import { type ModelVersion, ModelRegistry } from '../../registry/registry';
import { MODEL_ONNX, SIGNATURE_JSON } from '../../onnx/signature';
import type { Predictor } from './predict-thread';
import { PredictorError } from '../errors';

export type ModelFormat = 'onnx' | 'tfjs';

/** The Open Inference Protocol `platform` of each format (Triton's names where it has one). */
export const V2_PLATFORM: Readonly<Record<ModelFormat, string>> = { onnx: 'onnxruntime_onnx', tfjs: 'tensorflowjs' };

export function modelFormatOf(record: Pick<ModelVersion, 'files'>): ModelFormat {
  return MODEL_ONNX in record.files && SIGNATURE_JSON in record.files ? 'onnx' : 'tfjs';
}

export class ModelFormatPredictor implements Predictor {
  private tfjs: Predictor | undefined;
  private onnx: Predictor | undefined;
  private readonly byKey = new Map<string, Predictor>();

  /** Each runtime is made on first use (a server of ONNX versions never starts TensorFlow.js, and the reverse). */
  constructor(private readonly make: Readonly<Record<ModelFormat, () => Predictor>>) {}

  async load(key: string, store: string, model: string, version: number) {
    const format = modelFormatOf(await new ModelRegistry(store, model).version(version));
    const predictor = format === 'onnx' ? (this.onnx ??= this.make.onnx()) : (this.tfjs ??= this.make.tfjs());
    const shapes = await predictor.load(key, store, model, version);
    this.byKey.set(key, predictor);
    return shapes;
  }

  predict(key: string, features: Float32Array, count: number): Promise<Float32Array> {
    const predictor = this.byKey.get(key);
    return predictor ? predictor.predict(key, features, count) : Promise.reject(new PredictorError(`no model loaded under ${key}`));
  }

  async dispose(key: string): Promise<void> {
    const predictor = this.byKey.get(key);
    this.byKey.delete(key);
    await predictor?.dispose(key);
  }

  async close(): Promise<void> {
    await Promise.all([this.tfjs?.close(), this.onnx?.close()]);
  }
}
