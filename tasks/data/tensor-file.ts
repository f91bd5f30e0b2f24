/**
 * Compact binary tensors: the raw values, little-endian, nothing else. The
 * shape and dtype live in a manifest beside the file, with a sha256 of the
 * bytes so a reader can tell the file is the one the manifest describes.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { DagwrightError } from '../../src/public/errors';
import { TensorShapeError } from './errors';

export type TensorDtype = 'float32' | 'uint8';

/** What a manifest says about one tensor file. */
export interface TensorFileInfo {
  readonly file: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly sha256: string;
}

const littleEndian = endianness() === 'LE';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The bytes of a typed array, little-endian (a view on it on little-endian machines, a copy otherwise). */
export function tensorBytes(values: Float32Array | Uint8Array): Uint8Array {
  if (values instanceof Uint8Array || littleEndian) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/** Describes `values` as the file `file` of the given shape. */
export function describeTensor(file: string, values: Float32Array | Uint8Array, shape: readonly number[]): TensorFileInfo {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== values.length) throw new TensorShapeError(`${file}: shape [${shape.join(', ')}] holds ${size} values, got ${values.length}`);
  const bytes = tensorBytes(values);
  return { file, dtype: values instanceof Float32Array ? 'float32' : 'uint8', shape: [...shape], bytes: bytes.byteLength, sha256: sha256Hex(bytes) };
}

/** Thrown when a tensor file does not match its manifest entry. Not retryable: the same bytes give the same answer. */
export class TensorFileError extends DagwrightError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** Reads a tensor file's bytes back, checking its size and hash against the manifest. */
export function decodeTensor(info: TensorFileInfo, bytes: Uint8Array, where = info.file): Float32Array | Uint8Array {
  if (bytes.byteLength !== info.bytes) throw new TensorFileError(where, `expected ${info.bytes} bytes, found ${bytes.byteLength}`);
  const hash = sha256Hex(bytes);
  if (hash !== info.sha256) throw new TensorFileError(where, `sha256 ${hash} does not match the manifest's ${info.sha256}`);
  if (info.dtype === 'uint8') return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength / 4;
  if (littleEndian) {
    // Float32Array needs a 4-byte aligned offset; copy when the buffer is not.
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    return new Float32Array(bytes.slice().buffer, 0, count);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
