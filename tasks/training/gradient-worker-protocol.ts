/** Messages between the training loop and its gradient worker threads. */
import type { ModelHyperParameters } from '../mnist/model';
import type { StepTimings } from './gradient-engine';
import type { BackendName } from '../tf/tf-backend';

/** `workerData` of a gradient worker. Typed arrays are views of SharedArrayBuffers. */
export interface GradientWorkerData {
  model: ModelHyperParameters;
  /** Backend to insist on, or undefined for the best available. */
  backend: BackendName | undefined;
  params: Float32Array;
  /** This worker's gradient slot. */
  gradient: Float32Array;
  trainImages: Float32Array;
  trainLabels: Uint8Array;
  valImages: Float32Array;
  valLabels: Uint8Array;
}

export type ToWorker =
  | { type: 'gradients'; id: number; indices: Int32Array }
  | { type: 'predict'; id: number; start: number; count: number };

export type FromWorker =
  | { type: 'ready'; backend: BackendName; size: number }
  | { type: 'gradients'; id: number; loss: number; correct: number; timings: StepTimings }
  | { type: 'predict'; id: number; predictions: Uint8Array }
  | { type: 'error'; id: number | undefined; message: string; stack: string | undefined };
