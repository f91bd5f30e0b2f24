/**
 * The data a retrained model learns from, as a new data increment: MNIST's
 * first `increment * incrementSize` training images plus labelled batches
 * that arrived in the store (`<store>/labels/<id>/`), split into train and
 * validation by a seeded shuffle (so validation covers both), the labelled
 * samples repeated `oversample` times in the training part so a thousand
 * new digits are not drowned by sixty thousand old ones. Written in the
 * format of a preprocessed increment (the training task reads it as one),
 * with the hashes of every source: MNIST's files and each batch's manifest.
 */
import { param, Task, type TaskContext, type TaskResources } from '../../src';
import { batchIds, type LabelledBatch, readLabelledBatch } from '../data/labelled-batch';
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
}

export const driftIncrementParams = {
  ...dataParams,
  labelBatches: param.string({ default: '', pattern: /^([A-Za-z0-9][A-Za-z0-9._-]*(,[A-Za-z0-9][A-Za-z0-9._-]*)*)?$/, description: 'comma-separated labelled batch ids (<store>/labels/<id>/) to add' }),
  oversample: param.int({ min: 1, max: 1000, default: 10, description: 'times each labelled sample appears in the training part' }),
};

/** `details` of the increment's manifest; has the fields of a preprocessed MNIST increment that training reads. */
export interface DriftIncrementDetails {
  readonly kind: 'drift-increment';
  readonly increment: number;
  readonly incrementSize: number;
  readonly increments: number;
  readonly images: number;
  readonly split: { readonly seed: number; readonly validationFraction: number; readonly train: number; readonly validation: number };
  readonly oversample: number;
  readonly source: { readonly location: string; readonly images: { file: string; bytes: number; sha256: string }; readonly labels: { file: string; bytes: number; sha256: string } };
  readonly labelBatches: { readonly batchId: string; readonly source: string; readonly count: number; readonly manifestSha256: string }[];
}

export class DriftIncrement extends Task<DriftIncrementParams> {
  static override params = driftIncrementParams;
  override readonly version = '1';
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
    const { train, validation } = seededSplit(total, p.validationFraction, p.splitSeed);
    const trainOrder = [...train].flatMap((i) => (i < mnistCount ? [i] : new Array<number>(p.oversample).fill(i)));
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
      oversample: p.oversample,
      source: { location: p.source, images: fileInfo(files.trainImages.uri, imageBytes), labels: fileInfo(files.trainLabels.uri, labelBytes) },
      labelBatches: batches.map((b) => ({ batchId: b.manifest.batchId, source: b.source, count: b.labels.length, manifestSha256: b.manifestSha256 })),
    };
    const shape = (n: number) => [n, 28, 28, 1];
    await this.output().write((dir) =>
      writeDataset(dir, {
        trainImages: { values: trainSet.images, shape: shape(trainOrder.length) },
        trainLabels: { values: trainSet.labels, shape: [trainOrder.length] },
        validationImages: { values: validationSet.images, shape: shape(validation.length) },
        validationLabels: { values: validationSet.labels, shape: [validation.length] },
      }, details).then(() => undefined),
    );
    ctx.logger.info({ mnist: mnistCount, labelled: extra, batches: details.labelBatches.length, train: trainOrder.length, validation: validation.length, output: this.output().uri }, 'drift increment written');
  }
}
