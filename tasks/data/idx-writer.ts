/**
 * Writes ubyte IDX files (the format tasks/data/idx.ts reads), optionally
 * gzipped, for datasets the project ships or derives.
 */
import { gzipSync } from 'node:zlib';
import { TensorShapeError } from './errors';

/** The bytes of an IDX file holding `data` (uint8) with `shape`. */
export function encodeIdx(data: Uint8Array, shape: readonly number[]): Uint8Array {
  const elements = shape.reduce((a, b) => a * b, 1);
  if (elements !== data.length) throw new TensorShapeError(`shape [${shape.join(', ')}] holds ${elements} values, got ${data.length}`);
  if (shape.length < 1 || shape.length > 255) throw new TensorShapeError(`Expected 1 to 255 dimensions, got ${shape.length}`);
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  header[2] = 0x08;
  header[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** The gzipped bytes of an IDX file; `mtime` is zero in gzip's header, so the same data always gives the same bytes. */
export function encodeIdxGz(data: Uint8Array, shape: readonly number[]): Uint8Array {
  return gzipSync(encodeIdx(data, shape), { level: 9 });
}
