/**
 * The images of a version's drift reference, drawn from the data its
 * lineage names (`lineage.data.uri`: a training data set, see
 * tasks/data/data-sources.ts), stratified by source:
 *
 * - Each source gets the share it has of the data's distinct images (MNIST
 *   12,000 and 400 late-labelled traffic images: 96.8% and 3.2%).
 *   Oversampling repeats a labelled image in training to make it count, it
 *   does not make such images more common in traffic, so repeats are not
 *   counted. The sources added to the data's first (its base, e.g. MNIST)
 *   together get at most `maxAddedShare` (default 10%): they are what the
 *   version learned to handle, not what most traffic is. (A validation split
 *   of 3,000 MNIST images plus 1,078 labelled optdigits was a quarter
 *   optdigits, and plain MNIST traffic was drift against it.)
 * - Within a source, images the version was not trained on (its held-out
 *   validation images) come first: a model is more confident on images it
 *   learned from than on new ones, and the reference stands for new traffic.
 *   A source with fewer held-out images than its share is topped up with its
 *   training images (each distinct image once), flagged so that CBPE leaves
 *   them out of its calibration.
 * - The reference holds as many images as the held-out part (at most `size`).
 */
import { createHash } from 'node:crypto';
import { type DirectoryTarget, directoryTarget } from '../../src';
import { float32, type LoadedDataset, readDataset, uint8 } from '../data/dataset-files';
import { type DataSourceCount, TRAIN_SOURCES, VALIDATION_SOURCES } from '../data/data-sources';
import { MNIST_PIXELS } from '../data/mnist-format';
import { mulberry32, shuffledIndices } from '../data/seeded-random';
import type { ImageBatch } from './sources/image-batch';
import { DriftDataError } from './errors';

/** One source's part of a reference, as the reference's manifest records it. */
export interface ReferenceStratum {
  readonly name: string;
  /** Distinct images of this source in the version's data. */
  readonly images: number;
  /** Images drawn into the reference ... */
  readonly drawn: number;
  /** ... of which held out from training. */
  readonly heldOut: number;
}

export interface LineageSample {
  readonly batch: ImageBatch;
  /** Index into `strata` of each image. */
  readonly sources: Uint8Array;
  /** 1 for an image the version was not trained on. */
  readonly heldOut: Uint8Array;
  readonly strata: ReferenceStratum[];
  readonly manifestSha256: string;
}

/** Default largest share of a reference for the sources added to the data's first (base) source. */
export const MAX_ADDED_SHARE = 0.1;

/** Each source's weight in the reference: its distinct images, the added sources scaled down to `maxAddedShare` together when they hold more. */
export function sourceWeights(images: readonly number[], maxAddedShare: number): number[] {
  const total = images.reduce((a, b) => a + b, 0);
  const added = total - (images[0] ?? 0);
  if (total === 0 || added / total <= maxAddedShare) return [...images];
  return images.map((n, s) => (s === 0 ? (1 - maxAddedShare) : (maxAddedShare * n) / added));
}

/** `size` split in proportion to `weights`, by largest remainder (the parts add up to `size`). */
export function stratumQuotas(weights: readonly number[], size: number): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w / total) * size);
  const quotas = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - quotas[i], i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; k < size - quotas.reduce((a, b) => a + b, 0); k++) quotas[order[k][1]]++;
  return quotas;
}

interface Details {
  readonly sources?: readonly DataSourceCount[];
  readonly source?: { readonly location?: unknown };
}

/** The data's sources; a data set that records none is one source (named by its `details.source.location`). */
function sourcesOf(data: LoadedDataset<Details>, images: number): readonly DataSourceCount[] {
  if (data.manifest.details.sources && VALIDATION_SOURCES in data.manifest.tensors) return data.manifest.details.sources;
  const location = data.manifest.details.source?.location;
  return [{ name: typeof location === 'string' ? location : 'training data', images }];
}

/** Indices of `of` whose entry is `value`, in a seeded random order. */
function shuffledWhere(of: Uint8Array, value: number, seed: number): number[] {
  const indices: number[] = [];
  for (let i = 0; i < of.length; i++) if (of[i] === value) indices.push(i);
  return Array.from(shuffledIndices(indices.length, mulberry32(seed)), (k) => indices[k]);
}

const imageHash = (images: Float32Array, i: number) => createHash('sha1').update(new Uint8Array(images.buffer, images.byteOffset + i * MNIST_PIXELS * 4, MNIST_PIXELS * 4)).digest('base64');

interface Part {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  /** Source index of each image. */
  readonly sources: Uint8Array;
}

/** The validation (held-out) or training part of a data set; a data set that records no sources is all source 0. */
async function partOf(dir: DirectoryTarget, data: LoadedDataset<Details>, part: 'validation' | 'train', recorded: boolean): Promise<Part> {
  const [images, labels, sources] = [`${part}Images`, `${part}Labels`, part === 'validation' ? VALIDATION_SOURCES : TRAIN_SOURCES];
  const read = await readDataset(dir, recorded ? [images, labels, sources] : [images, labels]);
  if (read.manifestSha256 !== data.manifestSha256) throw new DriftDataError(`${dir.uri} changed while its drift reference was drawn: run the check again`);
  const imageLabels = uint8(read, labels);
  return { images: float32(read, images), labels: imageLabels, sources: recorded ? uint8(read, sources) : new Uint8Array(imageLabels.length) };
}

/** The images drawn so far, with their labels, sources and whether they were held out. */
class Drawn {
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
  readonly sources: Uint8Array;
  readonly heldOut: Uint8Array;
  count = 0;

  constructor(capacity: number) {
    this.pixels = new Uint8Array(capacity * MNIST_PIXELS);
    this.labels = new Uint8Array(capacity);
    this.sources = new Uint8Array(capacity);
    this.heldOut = new Uint8Array(capacity);
  }

  take(part: Part, i: number, heldOut: boolean): void {
    const at = this.count++;
    for (let j = 0; j < MNIST_PIXELS; j++) this.pixels[at * MNIST_PIXELS + j] = Math.round(part.images[i * MNIST_PIXELS + j] * 255);
    this.labels[at] = part.labels[i];
    this.sources[at] = part.sources[i];
    this.heldOut[at] = heldOut ? 1 : 0;
  }
}

/** Draws a version's reference images from its training data at `uri` (see the module comment); `seed` makes it reproducible. */
export async function sampleTrainingData(uri: string, size: number, seed: number, maxAddedShare = MAX_ADDED_SHARE): Promise<LineageSample> {
  const dir = directoryTarget(uri);
  const data = await readDataset<Details>(dir, []);
  const { tensors } = data.manifest;
  if (!tensors.validationLabels || !tensors.trainLabels) throw new DriftDataError(`${uri} is not a training data set (it has no validationLabels or trainLabels): pass --reference-source <data source>`);
  const recorded = VALIDATION_SOURCES in tensors && TRAIN_SOURCES in tensors;
  const sources = sourcesOf(data, tensors.validationLabels.shape[0] + tensors.trainLabels.shape[0]);
  const validation = await partOf(dir, data, 'validation', recorded);
  const quotas = stratumQuotas(sourceWeights(sources.map((s) => s.images), maxAddedShare), Math.min(size, validation.labels.length));
  const drawn = new Drawn(quotas.reduce((a, b) => a + b, 0));
  const heldOut = quotas.map((quota, s) => {
    const picked = shuffledWhere(validation.sources, s, seed + s).slice(0, quota);
    for (const i of picked) drawn.take(validation, i, true);
    return picked.length;
  });
  const counts = [...heldOut];
  let train: Part | undefined;
  for (let s = 0; s < sources.length; s++) {
    if (counts[s] >= quotas[s]) continue;
    train ??= await partOf(dir, data, 'train', recorded);
    const seen = new Set<string>();
    for (const i of shuffledWhere(train.sources, s, seed + 1000 + s)) {
      if (counts[s] >= quotas[s]) break;
      const hash = imageHash(train.images, i);
      if (seen.has(hash)) continue; // a repeat from oversampling
      seen.add(hash);
      drawn.take(train, i, false);
      counts[s]++;
    }
  }
  const n = drawn.count;
  return {
    batch: { name: 'lineage', count: n, pixels: drawn.pixels.subarray(0, n * MNIST_PIXELS), labels: drawn.labels.subarray(0, n) },
    sources: drawn.sources.subarray(0, n),
    heldOut: drawn.heldOut.subarray(0, n),
    strata: sources.map((source, s) => ({ name: source.name, images: source.images, drawn: counts[s], heldOut: heldOut[s] })),
    manifestSha256: data.manifestSha256,
  };
}
