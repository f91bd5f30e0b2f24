/** Messages between the training loop and its gradient worker threads. */
import type { EpochPlan, TrainingData, TrainingState } from './epoch-runner';
import type { BackendName } from '../tf/tf-backend';

/** `workerData` of a gradient worker. Typed arrays are views of SharedArrayBuffers. */
export interface GradientWorkerData extends TrainingData {
  /** The model's topology (`model.toJSON()`): each worker builds its replica from it. */
  modelTopology: string;
  /** Backend to insist on, or undefined for the best available. */
  backend: BackendName | undefined;
  /** This worker's index, 0..workers-1. */
  index: number;
  workers: number;
  state: TrainingState;
}

export type ToWorker =
  | { type: 'epoch'; id: number; plan: EpochPlan }
  | { type: 'predict'; id: number; start: number; count: number };

export type FromWorker =
  | { type: 'ready'; backend: BackendName; size: number }
  | { type: 'epoch'; id: number; steps: number }
  | { type: 'predict'; id: number; predictions: Uint8Array }
  /** `peer`: the worker stopped because another one failed (not the first failure). */
  | { type: 'error'; id: number | undefined; message: string; stack: string | undefined; peer: boolean };
