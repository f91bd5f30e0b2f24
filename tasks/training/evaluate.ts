/**
 * Test-set evaluation of a classifier: accuracy, per-class accuracy and the
 * confusion matrix. The sample shape and the number of classes come from the
 * model (any layers model with one input and a [batch, classes] output).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type * as tfjs from '@tensorflow/tfjs';

import { modelGeometry } from './model-geometry';
import type { TensorFlow } from '../tf/tf-backend';
import { TrainingInputError } from './errors';

export interface Evaluation {
  count: number;
  /** Fraction of images classified correctly. */
  accuracy: number;
  /** For each true class, the fraction of its images classified correctly (NaN if absent). */
  perClassAccuracy: number[];
  /** confusion[trueClass][predictedClass] = number of images. */
  confusion: number[][];
}

/** Predicted class of each of `count` samples (count * sample size numbers, e.g. 784 pixels in [0, 1] each). */
export function predictClasses(
  tf: TensorFlow,
  model: tfjs.LayersModel,
  images: Float32Array,
  count: number,
  batchSize = 500,
): Uint8Array {
  const predictions = new Uint8Array(count);
  for (const predictBatch of batchesOf(tf, model, images, count, batchSize, predictions)) predictBatch();
  return predictions;
}

/**
 * As predictClasses, giving the event loop a turn after each batch. Scoring
 * on a step's main thread must not starve its timers: on a busy machine
 * (load 27 on 2 cores) scoring 10,000 images took over a minute, the run's
 * lock went unrefreshed for 59 s and the run stopped (exit 75).
 */
export async function predictClassesInTurns(
  tf: TensorFlow,
  model: tfjs.LayersModel,
  images: Float32Array,
  count: number,
  batchSize = 500,
): Promise<Uint8Array> {
  const predictions = new Uint8Array(count);
  for (const predictBatch of batchesOf(tf, model, images, count, batchSize, predictions)) {
    predictBatch();
    await nextTurn();
  }
  return predictions;
}

/** One function a batch, each writing its batch's predicted classes into `predictions`. */
function* batchesOf(tf: TensorFlow, model: tfjs.LayersModel, images: Float32Array, count: number, batchSize: number, predictions: Uint8Array): Generator<() => void> {
  const { sampleShape: shape, sampleSize: size } = modelGeometry(model);
  if (images.length < count * size) {
    throw new TrainingInputError(`Expected at least ${count * size} values for ${count} samples of shape [${shape.join(', ')}], got ${images.length}`);
  }
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    yield () => {
      const classes = tf.tidy(() => {
        const x = tf.tensor(images.subarray(start * size, (start + n) * size), [n, ...shape]);
        return tf.argMax(model.predict(x) as tfjs.Tensor2D, 1);
      });
      predictions.set(classes.dataSync() as Int32Array, start);
      classes.dispose();
    };
  }
}

/** Scores predictions against true labels (classes 0..classes-1; default 10). */
export function scorePredictions(predictions: Uint8Array, labels: Uint8Array, classes = 10): Evaluation {
  if (predictions.length !== labels.length) {
    throw new TrainingInputError(`Expected as many predictions as labels, got ${predictions.length} and ${labels.length}`);
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    confusion[labels[i]][predictions[i]]++;
    if (labels[i] === predictions[i]) correct++;
  }
  const perClassAccuracy = confusion.map((row, c) => {
    const total = row.reduce((sum, n) => sum + n, 0);
    return total === 0 ? Number.NaN : row[c] / total;
  });
  return { count: labels.length, accuracy: labels.length === 0 ? Number.NaN : correct / labels.length, perClassAccuracy, confusion };
}

export interface EvaluateOptions {
  tf: TensorFlow;
  model: tfjs.LayersModel;
  /** count * sample size numbers (for MNIST 784 pixels in [0, 1]). */
  images: Float32Array;
  labels: Uint8Array;
  batchSize?: number;
}

/** Classifies every image (giving the event loop a turn between batches) and scores the result. */
export async function evaluate({ tf, model, images, labels, batchSize }: EvaluateOptions): Promise<Evaluation> {
  return scorePredictions(await predictClassesInTurns(tf, model, images, labels.length, batchSize), labels, modelGeometry(model).classes);
}
