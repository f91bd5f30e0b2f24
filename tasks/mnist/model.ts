/**
 * The default MNIST classifier: a small all-convolutional network chosen for
 * throughput on the single-threaded wasm backend. Stride-2 convolutions do
 * the downsampling (no pooling layers: the wasm MaxPoolGrad/AvgPoolGrad
 * kernels are scalar loops, 45-50 ms per batch), and the first layer works on
 * a single input channel where convolutions are least efficient, so it is
 * strided and narrow.
 *
 *   28x28x1 -conv 5x5/2 relu-> 14x14xF1 -conv 5x5/2 relu-> 7x7xF2
 *   -flatten-> dense U relu -> dense 10 softmax
 */
import type * as tfjs from '@tensorflow/tfjs';

import type { TensorFlow } from '../tf/tf-backend';
import { TrainingInputError } from '../training/errors';

export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;

export interface ModelHyperParameters {
  /** Filters of the first convolution (5x5, stride 2). */
  conv1Filters: number;
  /** Filters of the second convolution (5x5, stride 2). */
  conv2Filters: number;
  /** Units of the hidden dense layer. */
  denseUnits: number;
  /** Seed of the weight initialisers; layer i uses seed + i. */
  seed: number;
}

export const DEFAULT_MODEL: ModelHyperParameters = {
  conv1Filters: 16,
  conv2Filters: 32,
  denseUnits: 128,
  seed: 42,
};

/** Builds the (uncompiled) model; the training loop brings its own optimizer. */
export function buildModel(tf: TensorFlow, hp: ModelHyperParameters = DEFAULT_MODEL): tfjs.Sequential {
  for (const key of ['conv1Filters', 'conv2Filters', 'denseUnits'] as const) {
    if (!Number.isInteger(hp[key]) || hp[key] < 1) {
      throw new TrainingInputError(`Expected \`${key}\` to be a positive integer, got ${hp[key]}`);
    }
  }
  const init = (i: number) => tf.initializers.glorotUniform({ seed: hp.seed + i });
  return tf.sequential({
    name: 'mnist_cnn',
    layers: [
      tf.layers.conv2d({
        name: 'conv1',
        inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1],
        filters: hp.conv1Filters,
        kernelSize: 5,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(0),
      }),
      tf.layers.conv2d({
        name: 'conv2',
        filters: hp.conv2Filters,
        kernelSize: 5,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'hidden', units: hp.denseUnits, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.dense({ name: 'logits', units: NUM_CLASSES, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}
