/**
 * The data a retrained model learns from, as a new data increment: MNIST's
 * first `increment * incrementSize` training images plus labelled batches
 * that arrived in the store (`<store>/labels/<id>/`), split into train and
 * validation by a seeded shuffle (so validation covers both), the labelled
 * samples repeated in the training part so a thousand new digits are not
 * drowned by sixty thousand old ones: `oversample` times, or by default as
 * often as makes them `labelledShare` (half) of it. A fixed factor fits one
 * ratio only: x10 made 500 late labels of traffic 28% of an increment of
 * 12,000 images, and its 60 optdigits among them 3.5%; measured after one
 * epoch, x10 gave 82.5% on optdigits' held-out part, half the training part
 * 87.8% (MNIST's test set 95.7% and 96.5%). Written in the
 * format of a preprocessed increment (the training task reads it as one),
 * with the hashes of every source: MNIST's files and each batch's manifest,
 * and each image's source (tasks/data/data-sources.ts: MNIST, then one per
 * distinct batch `source`), which a version's drift reference is drawn by.
 */
import { param, Task, type TaskContext, type TaskResources } from '../../src';
import { batchIds, type LabelledBatch, readLabelledBatch } from '../data/labelled-batch';
import { checkSourceCount, type DataSourceCount, TRAIN_SOURCES, VALIDATION_SOURCES } from '../data/data-sources';
import { MNIST_PIXELS } from '../data/mnist-format';
import { seededSplit } from '../data/seeded-split';
import { sha256Hex } from '../data/tensor-file';
import { writeDataset } from '../data/dataset-files';
import { incrementCount, incrementImages } from './increments';
import { dataParams, type DataParams } from './params';
import { MnistSource } from './source';
import { mnistSplitFromIdx } from './mnist-data';
import { directoryAt } from '../store';
import { MnistDataError } from './errors';

export interface DriftIncrementParams extends DataParams {
  /** Comma-separated labelled batch ids. */
  labelBatches?: string;
  oversample?: number;
  labelledShare?: number;
}

export const driftIncrementParams = {
  ...dataParams,
  labelBatches: param.string({ default: '', pattern: /^([A-Za-z0-9][A-Za-z0-9._-]*(,[A-Za-z0-9][A-Za-z0-9._-]*)*)?$/, description: 'comma-separated labelled batch ids (<store>/labels/<id>/) to add' }),
  oversample: param.int({ min: 0, max: 1000, default: 0, description: 'times each labelled sample appears in the training part (0: as often as makes them --labelled-share of it)' }),
  labelledShare: param.number({ min: 0.01, max: 0.9, default: 0.5, description: "with --oversample 0: the labelled samples' share of the training part" }),
};

/** Times each labelled training sample is repeated: `oversample`, or (0) as often as makes them `share` of the training part, 1..1000. */
export function labelledRepeats(oversample: number, share: number, baseTrain: number, labelledTrain: number): number {
  if (oversample > 0) return oversample;
  if (labelledTrain === 0) return 1;
  return Math.min(1000, Math.max(1, Math.round((share / (1 - share)) * (baseTrain / labelledTrain))));
}

/** `details` of the increment's manifest; has the fields of a preprocessed MNIST increment that training reads. */
export interface DriftIncrementDetails {
  readonly kind: 'drift-increment';
  readonly increment: number;
  readonly incrementSize: number;
  readonly increments: number;
  readonly images: number;
  readonly split: { readonly seed: number; readonly validationFraction: number; readonly train: number; readonly validation: number };
  /** Times each labelled training sample appears (the one given, or the one `labelledShare` gave). */
  readonly oversample: number;
  readonly source: { readonly location: string; readonly images: { file: string; bytes: number; sha256: string }; readonly labels: { file: string; bytes: number; sha256: string } };
  readonly labelBatches: { readonly batchId: string; readonly source: string; readonly count: number; readonly manifestSha256: string }[];
  /** The sources the images came from (MNIST first), indexed by the trainSources and validationSources tensors. */
  readonly sources: DataSourceCount[];
}

/** The data's sources (MNIST, then each distinct batch `source`) and the source index of each example (MNIST first, then each batch in order). */
function sourcesOf(mnistName: string, mnistCount: number, batches: readonly LabelledBatch[]): { sources: DataSourceCount[]; sourceOf: Uint8Array } {
  const names = [mnistName, ...new Set(batches.map((b) => b.source))];
  const counts = new Array<number>(names.length).fill(0);
  counts[0] = mnistCount;
  const sourceOf = new Uint8Array(mnistCount + batches.reduce((s, b) => s + b.labels.length, 0));
  let at = mnistCount;
  for (const b of batches) {
    const index = names.indexOf(b.source);
    counts[index] += b.labels.length;
    sourceOf.fill(index, at, at + b.labels.length);
    at += b.labels.length;
  }
  const sources = names.map((name, i) => ({ name, images: counts[i] }));
  checkSourceCount(sources);
  return { sources, sourceOf };
}

export class DriftIncrement extends Task<DriftIncrementParams> {
  static override params = driftIncrementParams;
  /** 2: records each image's source (trainSources, validationSources). */
  override readonly version = '2';
  override readonly resources: TaskResources = { memoryMb: 2048 };

  override requires() {
    return new MnistSource({ source: this.params.source });
  }

  override output() {
    return directoryAt(this.params.store, 'drift', 'increments', this.id);
  }

  async run(ctx: TaskContext): Promise<void> {
    const p = this.params as Required<DriftIncrementParams>;
    const files = this.requires().output();
    const [imageBytes, labelBytes] = await Promise.all([files.trainImages.readBytes(), files.trainLabels.readBytes()]);
    const mnist = mnistSplitFromIdx(imageBytes, files.trainImages.uri, labelBytes, files.trainLabels.uri);
    const mnistCount = incrementImages(p.increment, p.incrementSize, mnist.count);
    const batches: LabelledBatch[] = [];
    for (const id of batchIds(p.labelBatches)) batches.push(await readLabelledBatch(p.store, id));
    const extra = batches.reduce((s, b) => s + b.labels.length, 0);
    const total = mnistCount + extra;
    // Pixels of example i (MNIST first, then each batch in order) as float32 in [0, 1].
    const pixelsOf = (i: number, out: Float32Array, at: number) => {
      if (i < mnistCount) return out.set(mnist.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), at * MNIST_PIXELS);
      let k = i - mnistCount;
      for (const b of batches) {
        if (k < b.labels.length) {
          for (let j = 0; j < MNIST_PIXELS; j++) out[at * MNIST_PIXELS + j] = b.pixels[k * MNIST_PIXELS + j] / 255;
          return;
        }
        k -= b.labels.length;
      }
    };
    const labelOf = (i: number) => {
      if (i < mnistCount) return mnist.labels[i];
      let k = i - mnistCount;
      for (const b of batches) {
        if (k < b.labels.length) return b.labels[k];
        k -= b.labels.length;
      }
      throw new MnistDataError(`example ${i} is out of range (a bug: please report it)`);
    };
    const { sources, sourceOf } = sourcesOf(`mnist-train[0:${mnistCount}]`, mnistCount, batches);
    const { train, validation } = seededSplit(total, p.validationFraction, p.splitSeed);
    const labelledTrain = train.filter((i) => i >= mnistCount).length;
    const repeats = labelledRepeats(p.oversample, p.labelledShare, train.length - labelledTrain, labelledTrain);
    const trainOrder = [...train].flatMap((i) => (i < mnistCount ? [i] : new Array<number>(repeats).fill(i)));
    const gather = (indices: readonly number[] | Uint32Array) => {
      const images = new Float32Array(indices.length * MNIST_PIXELS);
      const labels = new Uint8Array(indices.length);
      Array.from(indices).forEach((index, at) => {
        pixelsOf(index, images, at);
        labels[at] = labelOf(index);
      });
      return { images, labels };
    };
    const trainSet = gather(trainOrder);
    const validationSet = gather(validation);
    const fileInfo = (uri: string, bytes: Uint8Array) => ({ file: uri.slice(uri.lastIndexOf('/') + 1), bytes: bytes.byteLength, sha256: sha256Hex(bytes) });
    const details: DriftIncrementDetails = {
      kind: 'drift-increment',
      increment: p.increment,
      incrementSize: p.incrementSize,
      increments: incrementCount(p.incrementSize, mnist.count),
      images: total,
      split: { seed: p.splitSeed, validationFraction: p.validationFraction, train: trainOrder.length, validation: validation.length },
      oversample: repeats,
      source: { location: p.source, images: fileInfo(files.trainImages.uri, imageBytes), labels: fileInfo(files.trainLabels.uri, labelBytes) },
      labelBatches: batches.map((b) => ({ batchId: b.manifest.batchId, source: b.source, count: b.labels.length, manifestSha256: b.manifestSha256 })),
      sources,
    };
    const shape = (n: number) => [n, 28, 28, 1];
    await this.output().write((dir) =>
      writeDataset(dir, {
        trainImages: { values: trainSet.images, shape: shape(trainOrder.length) },
        trainLabels: { values: trainSet.labels, shape: [trainOrder.length] },
        validationImages: { values: validationSet.images, shape: shape(validation.length) },
        validationLabels: { values: validationSet.labels, shape: [validation.length] },
        [TRAIN_SOURCES]: { values: Uint8Array.from(trainOrder, (i) => sourceOf[i]), shape: [trainOrder.length] },
        [VALIDATION_SOURCES]: { values: Uint8Array.from(validation, (i) => sourceOf[i]), shape: [validation.length] },
      }, details).then(() => undefined),
    );
    ctx.logger.info({ mnist: mnistCount, labelled: extra, batches: details.labelBatches.length, train: trainOrder.length, validation: validation.length, output: this.output().uri }, 'drift increment written');
  }
}
