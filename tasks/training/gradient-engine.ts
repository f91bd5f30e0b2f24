/**
 * Where gradients are computed: in this thread (LocalGradientEngine) or in
 * worker threads (WorkerGradientEngine in gradient-worker-pool.ts). The
 * training loop sees only this interface: it writes `params`, asks for the
 * mean gradient of a batch, and applies the optimizer itself.
 */
import type * as tfjs from '@tensorflow/tfjs';

import { PIXELS } from '../mnist/model';
import { ModelReplica } from './model-replica';
import type { TensorFlow } from '../tf/tf-backend';

export interface TrainingData {
  /** Training images, count * 784 pixels in [0, 1]. */
  trainImages: Float32Array;
  trainLabels: Uint8Array;
  /** Validation images (may be empty). */
  valImages: Float32Array;
  valLabels: Uint8Array;
}

/** Milliseconds spent by the slowest gradient computation of a step, by phase. */
export interface StepTimings {
  /** Copying the batch's images out of the data set (JavaScript). */
  gatherMs: number;
  /** Uploading the parameters into the replica's variables. */
  uploadMs: number;
  /** Forward and backward pass, including reading the gradient back. */
  computeMs: number;
}

export interface BatchResult {
  /** Mean loss over the batch. */
  loss: number;
  correct: number;
  timings: StepTimings;
}

export interface GradientEngine {
  /** Number of worker threads (0: this thread). */
  readonly workers: number;
  /** Current parameters; the training loop updates them in place. */
  readonly params: Float32Array;
  /** Mean gradient of the last batch, filled by computeGradients. */
  readonly gradient: Float32Array;
  /** Computes the mean gradient over training examples `batch` (indices). */
  computeGradients(batch: Int32Array): Promise<BatchResult>;
  /** Predicted class of each validation image with the current parameters. */
  predictValidation(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Copies the images and labels of `indices` into the batch buffers. */
export function gatherBatch(
  images: Float32Array,
  labels: Uint8Array,
  indices: Int32Array,
  batchImages: Float32Array,
  batchLabels: Uint8Array,
): void {
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    batchImages.set(images.subarray(i * PIXELS, (i + 1) * PIXELS), k * PIXELS);
    batchLabels[k] = labels[i];
  }
}

/** Computes gradients in the calling thread, on the given model. */
export class LocalGradientEngine implements GradientEngine {
  readonly workers = 0;
  readonly params: Float32Array;
  readonly gradient: Float32Array;
  private readonly replica: ModelReplica;
  private readonly data: TrainingData;
  private batchImages = new Float32Array(0);
  private batchLabels = new Uint8Array(0);

  constructor(tf: TensorFlow, model: tfjs.LayersModel, data: TrainingData) {
    this.replica = new ModelReplica(tf, model);
    this.data = data;
    this.params = new Float32Array(this.replica.size);
    this.gradient = new Float32Array(this.replica.size);
    this.replica.readParams(this.params);
  }

  async computeGradients(batch: Int32Array): Promise<BatchResult> {
    if (this.batchLabels.length < batch.length) {
      this.batchImages = new Float32Array(batch.length * PIXELS);
      this.batchLabels = new Uint8Array(batch.length);
    }
    const t0 = performance.now();
    gatherBatch(this.data.trainImages, this.data.trainLabels, batch, this.batchImages, this.batchLabels);
    const t1 = performance.now();
    this.replica.writeParams(this.params);
    const t2 = performance.now();
    const { loss, correct } = this.replica.computeGradients(this.batchImages, this.batchLabels, batch.length, this.gradient);
    const t3 = performance.now();
    return { loss, correct, timings: { gatherMs: t1 - t0, uploadMs: t2 - t1, computeMs: t3 - t2 } };
  }

  async predictValidation(): Promise<Uint8Array> {
    this.replica.writeParams(this.params);
    return this.replica.predict(this.data.valImages, this.data.valLabels.length);
  }

  async close(): Promise<void> {
    // The model belongs to the caller.
  }
}
