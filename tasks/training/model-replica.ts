/**
 * One copy of a classifier that computes gradients. Parameters live outside
 * the replica as one flat Float32Array (variables in `model.trainableWeights`
 * order) so that copies in other threads can be kept identical and the
 * optimizer can run on plain arrays; see epoch-runner.ts.
 *
 * Any tfjs layers model with one input and a softmax output of shape
 * [batch, classes] works; the sample shape is read from the model's input.
 */
import type * as tfjs from '@tensorflow/tfjs';

import { predictClasses } from './evaluate';
import { modelGeometry } from './model-geometry';
import type { TensorFlow } from '../tf/tf-backend';
import { TrainingInternalError } from './errors';

export interface GradientResult {
  /** Mean cross-entropy over the batch. */
  loss: number;
  /** Examples of the batch classified correctly (before the update). */
  correct: number;
}

export class ModelReplica {
  readonly tf: TensorFlow;
  readonly model: tfjs.LayersModel;
  /** Number of trainable parameters. */
  readonly size: number;
  /** Numbers per sample. */
  readonly sampleSize: number;
  /** Shape of one sample. */
  readonly sampleShape: number[];
  private readonly classes: number;
  private readonly variables: tfjs.Variable[];

  constructor(tf: TensorFlow, model: tfjs.LayersModel) {
    this.tf = tf;
    this.model = model;
    ({ sampleShape: this.sampleShape, sampleSize: this.sampleSize, classes: this.classes } = modelGeometry(model));
    this.variables = model.trainableWeights.map((w) => w.read() as tfjs.Variable);
    this.size = this.variables.reduce((sum, v) => sum + v.size, 0);
  }

  /** Copies the current weights into `into` (length `size`). */
  readParams(into: Float32Array): void {
    let offset = 0;
    for (const v of this.variables) {
      into.set(v.dataSync() as Float32Array, offset);
      offset += v.size;
    }
  }

  /** Sets the weights from `params` (length `size`); the data is copied. */
  writeParams(params: Float32Array): void {
    const { tf } = this;
    let offset = 0;
    for (const v of this.variables) {
      tf.tidy(() => v.assign(tf.tensor(params.slice(offset, offset + v.size), v.shape)));
      offset += v.size;
    }
  }

  /**
   * Gradient of the mean cross-entropy over `count` examples, written to
   * `into` (length `size`) in parameter order.
   *
   * @param samples count * sampleSize numbers
   * @param labels count class indices
   */
  computeGradients(samples: Float32Array, labels: Uint8Array, count: number, into: Float32Array): GradientResult {
    const { tf } = this;
    const x = tf.tensor(samples.subarray(0, count * this.sampleSize), [count, ...this.sampleShape]);
    const y = tf.oneHot(tf.tensor1d(labels.subarray(0, count), 'int32'), this.classes) as tfjs.Tensor2D;
    let correctTensor: tfjs.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const probabilities = this.model.apply(x, { training: true }) as tfjs.Tensor2D;
      correctTensor = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), tf.argMax(y, 1)), 'int32')));
      return crossEntropy(tf, y, probabilities);
    }, this.variables);
    let offset = 0;
    for (const v of this.variables) {
      const gradient = grads[v.name];
      if (gradient === undefined) throw new TrainingInternalError(`No gradient was computed for variable '${v.name}'`);
      into.set(gradient.dataSync() as Float32Array, offset);
      offset += v.size;
    }
    const loss = value.dataSync()[0];
    const correct = correctTensor?.dataSync()[0] ?? 0;
    tf.dispose([x, y, value, correctTensor ?? [], ...Object.values(grads)]);
    return { loss, correct };
  }

  /** Predicted class of each of `count` samples. */
  predict(samples: Float32Array, count: number): Uint8Array {
    return predictClasses(this.tf, this.model, samples, count);
  }
}

/** Mean categorical cross-entropy of softmax outputs, clipped away from log(0). */
export function crossEntropy(tf: TensorFlow, oneHot: tfjs.Tensor2D, probabilities: tfjs.Tensor2D): tfjs.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probabilities, 1e-7, 1))), 1))) as tfjs.Scalar;
}
