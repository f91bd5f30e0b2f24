/** Messages between the model server and its prediction worker (predict-thread.ts, predict-worker.ts). */
import type { BackendName } from '../../tf/tf-backend';

export interface PredictWorkerData {
  /** TensorFlow.js backend for versions without an ONNX file (loaded only when one is). */
  readonly backend?: BackendName;
  /** ONNX Runtime's intra-op threads for ONNX versions. */
  readonly onnxThreads?: number;
}

export type ToPredictWorker =
  | { readonly type: 'load'; readonly id: number; readonly key: string; readonly store: string; readonly model: string; readonly version: number }
  | { readonly type: 'predict'; readonly id: number; readonly key: string; readonly features: Float32Array; readonly count: number }
  | { readonly type: 'dispose'; readonly id: number; readonly key: string };

export type FromPredictWorker =
  | { readonly type: 'loaded'; readonly id: number; readonly inputShape: (number | null)[]; readonly outputShape: (number | null)[] }
  | { readonly type: 'result'; readonly id: number; readonly probabilities: Float32Array }
  | { readonly type: 'disposed'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
