/**
 * Preprocessing: MNIST's IDX files to compact tensors a trainer can load
 * straight into memory. Pixels become float32 in [0, 1] laid out as
 * [n, 28, 28, 1]; labels stay uint8 class indices. The output is a directory
 * target with one raw little-endian file per tensor and a manifest (shapes,
 * dtypes, counts, sha256 of every file and of the source files). The same
 * inputs always give the same bytes.
 */
import { ParameterError, Task, type TaskContext, type TaskResources } from '../../src';
import { directoryAt } from '../store';
import { writeDataset } from '../data/dataset-files';
import { incrementCount, incrementImages, incrementProblem } from './increments';
import { mnistSplitFromIdx, type MnistSplit } from './mnist-data';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS } from './model';
import { type DataParams, dataParams } from './params';
import { blockwiseSplit, seededSplit } from '../data/seeded-split';
import { isLocalSource, MnistSource, PACKAGED_SOURCE, sourceLocation, sourceParam } from './source';
import { sha256Hex } from '../data/tensor-file';
import { MnistDataError } from './errors';

/** A source file as the manifest records it. */
export interface SourceFileInfo {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** `details` of a preprocessed training increment's manifest. */
export interface IncrementDetails {
  readonly kind: 'mnist-train-increment';
  readonly increment: number;
  readonly incrementSize: number;
  readonly increments: number;
  /** Training images in this increment (train + validation). */
  readonly images: number;
  readonly split: {
    readonly seed: number;
    readonly validationFraction: number;
    /** How the split was drawn (absent: 'all', from before the choice). */
    readonly by?: 'all' | 'increment';
    readonly train: number;
    readonly validation: number;
    /** Training images this increment adds: the last ones of `trainImages` (ascending image order). */
    readonly newTrain?: number;
  };
  readonly classCounts: { readonly train: number[]; readonly validation: number[] };
  /** The `--source` value (not a machine path) and the files read. */
  readonly source: { readonly location: string; readonly images: SourceFileInfo; readonly labels: SourceFileInfo };
}

/** `details` of the preprocessed test set's manifest. */
export interface TestSetDetails {
  readonly kind: 'mnist-test-set';
  readonly images: number;
  readonly classCounts: number[];
  readonly source: { readonly location: string; readonly images: SourceFileInfo; readonly labels: SourceFileInfo };
}

/** The tensor names in a training increment. */
export const INCREMENT_TENSORS = ['trainImages', 'trainLabels', 'validationImages', 'validationLabels'] as const;
/** The tensor names in the test set. */
export const TEST_TENSORS = ['testImages', 'testLabels'] as const;

function imageShape(count: number): number[] {
  return [count, IMAGE_SIZE, IMAGE_SIZE, 1];
}

function classCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

function gather(split: MnistSplit, indices: Uint32Array): { images: Float32Array; labels: Uint8Array } {
  const images = new Float32Array(indices.length * PIXELS);
  const labels = new Uint8Array(indices.length);
  indices.forEach((index, i) => {
    images.set(split.images.subarray(index * PIXELS, (index + 1) * PIXELS), i * PIXELS);
    labels[i] = split.labels[index];
  });
  return { images, labels };
}

/** Reads one images + labels pair from the source, parsing and checking it (errors name the file). */
async function readSourcePair(
  source: MnistSource,
  images: 'trainImages' | 'testImages',
  labels: 'trainLabels' | 'testLabels',
): Promise<{ split: MnistSplit; files: { images: SourceFileInfo; labels: SourceFileInfo } }> {
  const outputs = source.output();
  const [imageBytes, labelBytes] = await Promise.all([outputs[images].readBytes(), outputs[labels].readBytes()]);
  const split = mnistSplitFromIdx(imageBytes, outputs[images].uri, labelBytes, outputs[labels].uri);
  const info = (uri: string, bytes: Uint8Array): SourceFileInfo => ({
    file: uri.slice(uri.lastIndexOf('/') + 1),
    bytes: bytes.byteLength,
    sha256: sha256Hex(bytes),
  });
  return { split, files: { images: info(outputs[images].uri, imageBytes), labels: info(outputs[labels].uri, labelBytes) } };
}

/** What a step needs to read the source when it runs in a container: the folder mounted, or the network for S3. */
function sourceResources(source: string): TaskResources {
  if (source === PACKAGED_SOURCE) return {}; // inside the project, which containers see already
  return isLocalSource(source) ? { mounts: [{ source: sourceLocation(source), readOnly: true }] } : { network: 'host' };
}

/**
 * One data version: the first `increment * incrementSize` training images,
 * split into train and validation by a seeded shuffle.
 */
export class PreprocessIncrement extends Task<DataParams> {
  static override params = dataParams;
  override readonly version = '1';
  override readonly resources: TaskResources;

  constructor(params: DataParams) {
    super(params);
    const { increment, incrementSize } = this.params;
    const problem = incrementProblem(increment, incrementSize);
    if (problem) throw new ParameterError(this.family, 'increment', increment, problem);
    this.resources = sourceResources(this.params.source);
  }

  override requires() {
    return new MnistSource({ source: this.params.source });
  }

  override output() {
    return directoryAt(this.params.store, 'mnist', 'preprocessed', this.id);
  }

  async run(ctx: TaskContext): Promise<void> {
    const { increment, incrementSize, validationFraction, splitSeed, splitBy, source } = this.params;
    const { split: all, files } = await readSourcePair(this.requires(), 'trainImages', 'trainLabels');
    if ((increment - 1) * incrementSize >= all.count) {
      throw new MnistDataError(`${files.images.file} holds ${all.count} images: too few for increment ${increment} of ${incrementSize} images`);
    }
    const images = incrementImages(increment, incrementSize, all.count);
    const { train, validation } = splitBy === 'increment' ? blockwiseSplit(images, incrementSize, validationFraction, splitSeed) : seededSplit(images, validationFraction, splitSeed);
    const trainSet = gather(all, train);
    const validationSet = gather(all, validation);
    const details: IncrementDetails = {
      kind: 'mnist-train-increment',
      increment,
      incrementSize,
      increments: incrementCount(incrementSize, all.count),
      images,
      split: { seed: splitSeed, validationFraction, by: splitBy, train: train.length, validation: validation.length, newTrain: train.filter((i) => i >= (increment - 1) * incrementSize).length },
      classCounts: { train: classCounts(trainSet.labels), validation: classCounts(validationSet.labels) },
      source: { location: source, ...files },
    };
    await this.output().write(async (dir) => {
      await writeDataset(
        dir,
        {
          trainImages: { values: trainSet.images, shape: imageShape(train.length) },
          trainLabels: { values: trainSet.labels, shape: [train.length] },
          validationImages: { values: validationSet.images, shape: imageShape(validation.length) },
          validationLabels: { values: validationSet.labels, shape: [validation.length] },
        },
        details,
      );
    });
    ctx.logger.info({ increment, images, train: train.length, validation: validation.length, output: this.output().uri }, 'preprocessed increment');
  }
}

/** The 10,000 test images, for evaluation; the same format as an increment. */
export class PreprocessTestSet extends Task<{ source?: string; store: string }> {
  static override params = { source: sourceParam, store: dataParams.store };
  override readonly version = '1';
  override readonly resources: TaskResources;

  constructor(params: { source?: string; store: string }) {
    super(params);
    this.resources = sourceResources(this.params.source);
  }

  override requires() {
    return new MnistSource({ source: this.params.source });
  }

  override output() {
    return directoryAt(this.params.store, 'mnist', 'preprocessed', this.id);
  }

  async run(ctx: TaskContext): Promise<void> {
    const { split, files } = await readSourcePair(this.requires(), 'testImages', 'testLabels');
    const details: TestSetDetails = {
      kind: 'mnist-test-set',
      images: split.count,
      classCounts: classCounts(split.labels),
      source: { location: this.params.source, ...files },
    };
    await this.output().write(async (dir) => {
      await writeDataset(
        dir,
        {
          testImages: { values: split.images, shape: imageShape(split.count) },
          testLabels: { values: split.labels, shape: [split.count] },
        },
        details,
      );
    });
    ctx.logger.info({ images: split.count, output: this.output().uri }, 'preprocessed test set');
  }
}
