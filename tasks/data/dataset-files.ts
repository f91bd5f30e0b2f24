/**
 * A preprocessed dataset on disk: a directory target holding raw tensor files
 * and `manifest.json` describing them (shapes, dtypes, counts, hashes, where
 * the data came from). Written by the preprocess tasks, read by training and
 * evaluation, which check every file against the manifest.
 */
import type { DirectoryTarget } from '../../src';
import type { DirectoryWriter } from '../../src/public/store';
import { parseStoredJson, shape } from '../../src/public/store';
import { decodeTensor, describeTensor, sha256Hex, type TensorFileInfo, tensorBytes } from './tensor-file';
import { DatasetError } from './errors';

export const MANIFEST = 'manifest.json';

/** What `manifest.json` holds: the tensors plus whatever the writer records about the data. */
export interface DatasetManifest<Extra extends object = Record<string, unknown>> {
  readonly formatVersion: 1;
  readonly tensors: Readonly<Record<string, TensorFileInfo>>;
  readonly details: Extra;
}

export interface TensorToWrite {
  readonly values: Float32Array | Uint8Array;
  readonly shape: readonly number[];
}

/** Writes the tensors (`<name>.f32` / `<name>.u8`) and the manifest into `dir`; returns the manifest's bytes. */
export async function writeDataset<Extra extends object>(
  dir: DirectoryWriter,
  tensors: Readonly<Record<string, TensorToWrite>>,
  details: Extra,
): Promise<Buffer> {
  const infos: Record<string, TensorFileInfo> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const file = `${name}.${t.values instanceof Float32Array ? 'f32' : 'u8'}`;
    const info = describeTensor(file, t.values, t.shape);
    await dir.write(file, tensorBytes(t.values));
    infos[name] = info;
  }
  const manifest: DatasetManifest<Extra> = { formatVersion: 1, tensors: infos, details };
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  await dir.write(MANIFEST, bytes);
  return bytes;
}

export interface LoadedDataset<Extra extends object> {
  readonly manifest: DatasetManifest<Extra>;
  /** sha256 of manifest.json: names this exact data version. */
  readonly manifestSha256: string;
  readonly tensors: Record<string, Float32Array | Uint8Array>;
}

function checkManifest(value: unknown): string | undefined {
  const problem = shape.fields(value, { formatVersion: 'number', tensors: 'object', details: 'object' });
  if (problem) return problem;
  for (const [name, info] of Object.entries((value as { tensors: Record<string, unknown> }).tensors)) {
    const bad = shape.fields(info, { file: 'string', shape: 'array' });
    if (bad) return `tensor "${name}": ${bad}`;
  }
  return undefined;
}

/** Reads a dataset written by `writeDataset`, checking its manifest's shape and each file's size and hash. */
export async function readDataset<Extra extends object>(target: DirectoryTarget, names?: readonly string[]): Promise<LoadedDataset<Extra>> {
  const manifestFile = target.file(MANIFEST);
  const manifestBytes = await manifestFile.readBytes();
  const repair = `Remove the folder ${target.uri}: the task that wrote it writes it again on the next run (a drift reference: the next monitor run).`;
  const manifest = parseStoredJson<DatasetManifest<Extra>>(manifestBytes, manifestFile.uri, checkManifest, repair);
  const tensors: Record<string, Float32Array | Uint8Array> = {};
  for (const name of names ?? Object.keys(manifest.tensors)) {
    const info = manifest.tensors[name];
    if (!info) throw new DatasetError(`${target.uri}/${MANIFEST} lists no tensor "${name}": it was written by another task or version; remove the folder and run the task that writes it again`);
    const file = target.file(info.file);
    tensors[name] = decodeTensor(info, await file.readBytes(), file.uri);
  }
  return { manifest, manifestSha256: sha256Hex(manifestBytes), tensors };
}

export function float32(dataset: LoadedDataset<object>, name: string): Float32Array {
  const t = dataset.tensors[name];
  if (!(t instanceof Float32Array)) throw new DatasetError(`tensor "${name}" is not float32: the dataset is of another kind than its reader expects`);
  return t;
}

export function uint8(dataset: LoadedDataset<object>, name: string): Uint8Array {
  const t = dataset.tensors[name];
  if (!(t instanceof Uint8Array)) throw new DatasetError(`tensor "${name}" is not uint8: the dataset is of another kind than its reader expects`);
  return t;
}
