/**
 * Labelled samples that arrive after training (a person labelling images in
 * the UI, or a shifted source whose own labels stand in): one batch is one
 * directory target in the store, published whole, so a reader never sees
 * half a batch.
 *
 *   <store>/labels/<batchId>/images.u8      n * 784 uint8 pixels (0-255), row-major 28x28 per image
 *   <store>/labels/<batchId>/labels.u8      n class indices 0-9
 *   <store>/labels/<batchId>/manifest.json  { count, files: { name: sha256 }, source, created, ... }
 *
 * Retraining reads batches back (checking every hash) as a new data increment.
 */
import { DagwrightError, type DirectoryTarget } from '../../src';
import { directoryAt, listUnder, type StoreLocation } from '../store';
import { sha256Hex } from './tensor-file';

export const LABELLED_IMAGES = 'images.u8';
export const LABELLED_LABELS = 'labels.u8';
export const LABELLED_MANIFEST = 'manifest.json';
const PIXELS = 28 * 28;
const CLASSES = 10;
const BATCH_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Thrown for a labelled batch that cannot be written or read: bad name, bad sizes or labels, a file that does not match its manifest. */
export class LabelledBatchError extends DagwrightError {
  constructor(
    message: string,
    /** 'invalid': the caller's input is wrong; 'missing': no such batch; 'corrupt': files do not match the manifest. */
    readonly kind: 'invalid' | 'missing' | 'corrupt',
  ) {
    super(message);
  }
}

export interface LabelledSamples {
  /** n * 784 uint8 pixels, 0 background, 255 ink (MNIST's convention). */
  readonly pixels: Uint8Array;
  /** n class indices 0-9. */
  readonly labels: Uint8Array;
  /** Where the samples came from, e.g. "ui:prediction-log", "optdigits". */
  readonly source: string;
}

/** What `manifest.json` holds. */
export interface LabelledBatchManifest {
  readonly formatVersion: 1;
  readonly batchId: string;
  readonly count: number;
  readonly shape: readonly [number, number, number];
  /** sha256 of images.u8 and labels.u8. */
  readonly files: Readonly<Record<string, string>>;
  readonly source: string;
  /** ISO time of writing. */
  readonly created: string;
  readonly classCounts: readonly number[];
}

export interface LabelledBatch extends LabelledSamples {
  readonly manifest: LabelledBatchManifest;
  /** sha256 of manifest.json: names this exact batch. */
  readonly manifestSha256: string;
  readonly uri: string;
}

/** The directory target of a batch. */
export function labelledBatchTarget(store: StoreLocation, batchId: string): DirectoryTarget {
  if (!BATCH_ID.test(batchId)) {
    throw new LabelledBatchError(`labelled batch name "${batchId}" is not valid: use letters, digits, '.', '_' and '-' (at most 100, not starting with '.', '_' or '-').`, 'invalid');
  }
  return directoryAt(store, 'labels', batchId);
}

function checkSamples(samples: LabelledSamples): number {
  const { pixels, labels, source } = samples;
  if (!(pixels instanceof Uint8Array) || !(labels instanceof Uint8Array)) {
    throw new LabelledBatchError('Expected `pixels` and `labels` to be Uint8Arrays', 'invalid');
  }
  if (labels.length === 0) throw new LabelledBatchError('a labelled batch needs at least one sample; got 0 labels', 'invalid');
  if (pixels.length !== labels.length * PIXELS) {
    throw new LabelledBatchError(`Expected ${labels.length} * 784 = ${labels.length * PIXELS} pixels for ${labels.length} labels, got ${pixels.length}`, 'invalid');
  }
  const bad = labels.findIndex((l) => l >= CLASSES);
  if (bad >= 0) throw new LabelledBatchError(`label ${labels[bad]} at index ${bad}: expected a class 0-9`, 'invalid');
  if (typeof source !== 'string' || source.trim() === '') throw new LabelledBatchError('Expected `source` to be a non-empty string naming where the samples came from', 'invalid');
  return labels.length;
}

/**
 * Writes a batch as `<store>/labels/<name>/`. A batch is written once: a
 * second write under the same name with other content is refused; the same
 * content again is a no-op returning the existing manifest.
 */
export async function writeLabelledBatch(store: StoreLocation, name: string, samples: LabelledSamples): Promise<LabelledBatchManifest> {
  const dir = labelledBatchTarget(store, name);
  const count = checkSamples(samples);
  const files = { [LABELLED_IMAGES]: sha256Hex(samples.pixels), [LABELLED_LABELS]: sha256Hex(samples.labels) };
  if (await dir.exists()) {
    const existing = await dir.file(LABELLED_MANIFEST).readJson<LabelledBatchManifest>();
    const same = existing.files[LABELLED_IMAGES] === files[LABELLED_IMAGES] && existing.files[LABELLED_LABELS] === files[LABELLED_LABELS];
    if (same) return existing;
    throw new LabelledBatchError(`labelled batch "${name}" already exists in ${store} with other samples; choose another name.`, 'invalid');
  }
  const classCounts = new Array<number>(CLASSES).fill(0);
  for (const label of samples.labels) classCounts[label]++;
  const manifest: LabelledBatchManifest = {
    formatVersion: 1,
    batchId: name,
    count,
    shape: [count, 28, 28],
    files,
    source: samples.source,
    created: new Date().toISOString(),
    classCounts,
  };
  await dir.write(async (w) => {
    await w.write(LABELLED_IMAGES, samples.pixels);
    await w.write(LABELLED_LABELS, samples.labels);
    await w.write(LABELLED_MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
  });
  return manifest;
}

/** Reads a batch back, checking each file's size and sha256 against its manifest. */
export async function readLabelledBatch(store: StoreLocation, batchId: string): Promise<LabelledBatch> {
  const dir = labelledBatchTarget(store, batchId);
  if (!(await dir.exists())) throw new LabelledBatchError(`no labelled batch "${batchId}" in ${store} (looked for ${dir.uri}).`, 'missing');
  const manifestBytes = await dir.file(LABELLED_MANIFEST).readBytes();
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as LabelledBatchManifest;
  const [pixels, labels] = await Promise.all([dir.file(LABELLED_IMAGES).readBytes(), dir.file(LABELLED_LABELS).readBytes()]);
  const expected: Record<string, number> = { [LABELLED_IMAGES]: manifest.count * PIXELS, [LABELLED_LABELS]: manifest.count };
  for (const [file, bytes] of [[LABELLED_IMAGES, pixels], [LABELLED_LABELS, labels]] as const) {
    if (bytes.length !== expected[file]) throw new LabelledBatchError(`${dir.uri}/${file}: ${bytes.length} bytes, the manifest's count ${manifest.count} needs ${expected[file]}`, 'corrupt');
    const hash = sha256Hex(bytes);
    if (hash !== manifest.files[file]) throw new LabelledBatchError(`${dir.uri}/${file}: sha256 ${hash} does not match the manifest's ${manifest.files[file]}`, 'corrupt');
  }
  return {
    pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength),
    labels: new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength),
    source: manifest.source,
    manifest,
    manifestSha256: sha256Hex(manifestBytes),
    uri: dir.uri,
  };
}

/** `a, b,c` -> ['a', 'b', 'c']: labelled batch ids as parameters and manifests join them. */
export function batchIds(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The manifests of every published batch in the store, oldest first (by `created`, then id). */
export async function listLabelledBatches(store: StoreLocation): Promise<LabelledBatchManifest[]> {
  const names = await listUnder(directoryAt(store, 'labels'));
  const ids = [...new Set(names.map((n) => n.split('/')).filter((p) => p.length === 2 && p[1] === LABELLED_MANIFEST).map((p) => p[0]))];
  const manifests: LabelledBatchManifest[] = [];
  for (const id of ids) {
    if (!BATCH_ID.test(id)) continue;
    const dir = directoryAt(store, 'labels', id);
    if (await dir.exists()) manifests.push(await dir.file(LABELLED_MANIFEST).readJson<LabelledBatchManifest>());
  }
  return manifests.sort((a, b) => a.created.localeCompare(b.created) || a.batchId.localeCompare(b.batchId));
}
