/**
 * A batch of digit images in MNIST's format, the unit every drift data
 * source yields: `count * 784` uint8 pixels (0 background, 255 ink) and,
 * when the source knows them, the labels.
 */
import { MNIST_PIXELS } from '../../data/mnist-format';
import { mulberry32, shuffledIndices } from '../../data/seeded-random';
import { DataSourceError } from '../errors';

export interface ImageBatch {
  /** What the images are, e.g. "optdigits:heldout", "mnist-test:rotate:30". */
  readonly name: string;
  readonly count: number;
  readonly pixels: Uint8Array;
  readonly labels?: Uint8Array;
}

/** Images `indices` of a batch (copied). */
export function pickImages(batch: ImageBatch, indices: ArrayLike<number>, name = batch.name): ImageBatch {
  const pixels = new Uint8Array(indices.length * MNIST_PIXELS);
  const labels = batch.labels ? new Uint8Array(indices.length) : undefined;
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!(k >= 0 && k < batch.count)) throw new DataSourceError(`image ${k} is outside ${batch.name} (0..${batch.count - 1})`);
    pixels.set(batch.pixels.subarray(k * MNIST_PIXELS, (k + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
    if (labels) labels[i] = batch.labels![k];
  }
  return { name, count: indices.length, pixels, labels };
}

/** A seeded random sample of `size` images (without replacement; all of them, shuffled, when size >= count). */
export function sampleImages(batch: ImageBatch, size: number, seed: number): ImageBatch {
  const order = shuffledIndices(batch.count, mulberry32(seed));
  return pickImages(batch, order.subarray(0, Math.min(size, batch.count)));
}

/** Two batches as one. */
export function concatImages(name: string, batches: readonly ImageBatch[]): ImageBatch {
  const count = batches.reduce((s, b) => s + b.count, 0);
  const pixels = new Uint8Array(count * MNIST_PIXELS);
  const withLabels = batches.every((b) => b.labels);
  const labels = withLabels ? new Uint8Array(count) : undefined;
  let at = 0;
  for (const b of batches) {
    pixels.set(b.pixels, at * MNIST_PIXELS);
    if (labels) labels.set(b.labels!, at);
    at += b.count;
  }
  return { name, count, pixels, labels };
}

/** Pixels scaled to float32 [0, 1], what the models take. */
export function toFloatPixels(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
  return out;
}
