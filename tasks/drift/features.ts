/**
 * What drift checks compare, computed from images and a model: the model's
 * class probabilities, its penultimate-layer activations (embeddings), and
 * four image statistics (mean intensity, ink fraction, centre of mass x and
 * y). The same function makes the reference (once per model version) and
 * the current side of every check, so both are measured alike.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { MNIST_PIXELS, MNIST_SIDE } from '../data/mnist-format';
import type { TensorFlow } from '../tf/tf-backend';
import { DriftDataError } from './errors';

export const IMAGE_STATISTICS = ['meanIntensity', 'inkFraction', 'centreOfMassX', 'centreOfMassY'] as const;
export type ImageStatistic = (typeof IMAGE_STATISTICS)[number];

export interface DriftFeatures {
  readonly count: number;
  /** [count, classes] row-major. */
  readonly probabilities: Float32Array;
  readonly classes: number;
  /** [count, embeddingDim] row-major: the penultimate layer's outputs. */
  readonly embeddings: Float32Array;
  readonly embeddingDim: number;
  /** [count, 4] row-major, in the order of IMAGE_STATISTICS. */
  readonly imageStats: Float32Array;
}

/** A pixel at or above this (of 255) is ink. */
const INK_LEVEL = 128;

/** The four image statistics of each image (uint8 pixels, 784 per image). */
export function imageStatistics(pixels: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count * IMAGE_STATISTICS.length);
  for (let k = 0; k < count; k++) {
    let mass = 0;
    let ink = 0;
    let mx = 0;
    let my = 0;
    const base = k * MNIST_PIXELS;
    for (let i = 0; i < MNIST_PIXELS; i++) {
      const v = pixels[base + i];
      mass += v;
      if (v >= INK_LEVEL) ink++;
      mx += v * (i % MNIST_SIDE);
      my += v * Math.floor(i / MNIST_SIDE);
    }
    const o = k * IMAGE_STATISTICS.length;
    out[o] = mass / MNIST_PIXELS / 255;
    out[o + 1] = ink / MNIST_PIXELS;
    out[o + 2] = mass > 0 ? mx / mass : MNIST_SIDE / 2;
    out[o + 3] = mass > 0 ? my / mass : MNIST_SIDE / 2;
  }
  return out;
}

/** A model that outputs [penultimate activations, class probabilities] for the classifier `model`. */
export function featureModel(tf: TensorFlow, model: tfjs.LayersModel): tfjs.LayersModel {
  if (model.layers.length < 2) throw new DriftDataError(`model "${model.name}" has ${model.layers.length} layer(s): drift embeddings need a penultimate layer`);
  const penultimate = model.layers[model.layers.length - 2];
  return tf.model({ inputs: model.inputs, outputs: [penultimate.output as tfjs.SymbolicTensor, model.outputs[0]] });
}

/** Runs the model over the images in batches and gathers probabilities, embeddings and image statistics. */
export function computeFeatures(tf: TensorFlow, features: tfjs.LayersModel, pixels: Uint8Array, count: number, batchSize = 256): DriftFeatures {
  if (pixels.length !== count * MNIST_PIXELS) throw new DriftDataError(`Expected ${count} * 784 pixels (28x28 images), got ${pixels.length}`);
  const [embShape, probShape] = features.outputs.map((o) => o.shape);
  const embeddingDim = embShape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
  const classes = probShape[probShape.length - 1] ?? 0;
  const embeddings = new Float32Array(count * embeddingDim);
  const probabilities = new Float32Array(count * classes);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const [emb, prob] = tf.tidy(() => {
      const x = tf.tensor(pixels.subarray(start * MNIST_PIXELS, (start + n) * MNIST_PIXELS), [n, MNIST_SIDE, MNIST_SIDE, 1], 'float32').div(255);
      const [e, p] = features.predict(x) as tfjs.Tensor[];
      return [e.reshape([n, embeddingDim]), p];
    });
    embeddings.set(emb.dataSync() as Float32Array, start * embeddingDim);
    probabilities.set(prob.dataSync() as Float32Array, start * classes);
    emb.dispose();
    prob.dispose();
  }
  return { count, probabilities, classes, embeddings, embeddingDim, imageStats: imageStatistics(pixels, count) };
}

/** Rows `indices` of a feature set. */
export function pickFeatures(f: DriftFeatures, indices: ArrayLike<number>): DriftFeatures {
  const take = (src: Float32Array, width: number) => {
    const out = new Float32Array(indices.length * width);
    for (let i = 0; i < indices.length; i++) out.set(src.subarray(indices[i] * width, (indices[i] + 1) * width), i * width);
    return out;
  };
  return {
    count: indices.length,
    classes: f.classes,
    embeddingDim: f.embeddingDim,
    probabilities: take(f.probabilities, f.classes),
    embeddings: take(f.embeddings, f.embeddingDim),
    imageStats: take(f.imageStats, IMAGE_STATISTICS.length),
  };
}
