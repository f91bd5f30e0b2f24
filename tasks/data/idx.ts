/**
 * Reader for the IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/):
 *
 *   bytes 0-1  zero
 *   byte  2    data type: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
 *   byte  3    number of dimensions
 *   then one big-endian uint32 per dimension, then the data (big-endian).
 *
 * MNIST uses only ubyte; other types are recognised so that the error says
 * what the file holds, but only ubyte data is returned. `parseIdxFile` also
 * takes the gzipped files datasets ship (`*-ubyte.gz`, as Fashion-MNIST).
 */
import { gunzipSync } from 'node:zlib';
import { DagwrightError } from '../../src';

const DATA_TYPES: Readonly<Record<number, { name: string; bytes: number }>> = {
  0x08: { name: 'ubyte', bytes: 1 },
  0x09: { name: 'byte', bytes: 1 },
  0x0b: { name: 'short', bytes: 2 },
  0x0c: { name: 'int', bytes: 4 },
  0x0d: { name: 'float', bytes: 4 },
  0x0e: { name: 'double', bytes: 8 },
};

export interface IdxArray {
  dtype: 'ubyte';
  shape: number[];
  /** The elements, row-major: a view into the parsed bytes, not a copy. */
  data: Uint8Array;
}

/**
 * Thrown when bytes are not a well-formed IDX file of the expected kind. Not
 * retryable: reading the same bytes again gives the same answer; replace the file.
 */
export class IdxFormatError extends DagwrightError {
  /** The file (or other source name) that was being read. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: not a valid IDX file: ${problem}`);
    this.file = file;
  }
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

/**
 * Parses an IDX file of unsigned bytes.
 *
 * @param bytes the whole file
 * @param name the file's name or URL, used in error messages
 * @throws IdxFormatError for a foreign, truncated or oversized file
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (bytes.length < 4) {
    throw new IdxFormatError(name, `file is ${bytes.length} bytes long, expected at least a 4-byte header`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxFormatError(
      name,
      `magic number starts with ${hex(bytes[0])} ${hex(bytes[1])}, expected 0x00 0x00 ` +
        `(is the file still gzip-compressed? gzip starts with 0x1f 0x8b)`,
    );
  }
  const typeCode = bytes[2];
  const type = DATA_TYPES[typeCode];
  if (type === undefined) {
    throw new IdxFormatError(name, `unknown data type ${hex(typeCode)} in byte 2 of the magic number, expected 0x08 (ubyte)`);
  }
  if (typeCode !== 0x08) {
    throw new IdxFormatError(name, `data type is ${hex(typeCode)} (${type.name}), expected 0x08 (ubyte) as in MNIST`);
  }
  const dims = bytes[3];
  if (dims === 0) {
    throw new IdxFormatError(name, 'number of dimensions is 0, expected at least 1');
  }
  const headerLength = 4 + 4 * dims;
  if (bytes.length < headerLength) {
    throw new IdxFormatError(
      name,
      `header declares ${dims} dimensions (${headerLength} header bytes) but the file is only ${bytes.length} bytes long`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < dims; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const elements = shape.reduce((product, d) => product * d, 1);
  const expectedLength = headerLength + elements * type.bytes;
  if (bytes.length !== expectedLength) {
    const problem = bytes.length < expectedLength ? 'truncated' : 'has trailing bytes';
    throw new IdxFormatError(
      name,
      `file ${problem}: shape [${shape.join(', ')}] needs ${headerLength} header + ${elements} data bytes = ` +
        `${expectedLength} bytes, file has ${bytes.length}`,
    );
  }
  return { dtype: 'ubyte', shape, data: bytes.subarray(headerLength) };
}

/** True when `bytes` start with gzip's magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses an IDX file that may be gzip-compressed (decompressed first when it
 * starts with gzip's magic number).
 *
 * @throws IdxFormatError for a truncated or corrupt gzip stream, or a bad IDX file inside
 */
export function parseIdxFile(bytes: Uint8Array, name: string): IdxArray {
  if (!isGzip(bytes)) return parseIdx(bytes, name);
  let inflated: Buffer;
  try {
    inflated = gunzipSync(bytes);
  } catch (err) {
    throw new IdxFormatError(name, `gzip data is truncated or corrupt (${(err as Error).message}); download or copy the file again`);
  }
  return parseIdx(new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength), name);
}

/**
 * Checks that an images file and a labels file describe the same examples:
 * images of shape [n, rows, cols], labels of shape [n] with values below
 * `numClasses`.
 *
 * @returns the number of examples
 * @throws IdxFormatError naming the offending file
 */
export function checkImagesAndLabels(
  images: IdxArray,
  imagesName: string,
  labels: IdxArray,
  labelsName: string,
  numClasses = 10,
): number {
  if (images.shape.length !== 3) {
    throw new IdxFormatError(imagesName, `images have shape [${images.shape.join(', ')}], expected 3 dimensions [count, rows, columns]`);
  }
  if (labels.shape.length !== 1) {
    throw new IdxFormatError(labelsName, `labels have shape [${labels.shape.join(', ')}], expected 1 dimension [count]`);
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new IdxFormatError(
      labelsName,
      `${labels.shape[0]} labels for ${images.shape[0]} images in ${imagesName}, expected the same count`,
    );
  }
  const bad = labels.data.findIndex((label) => label >= numClasses);
  if (bad >= 0) {
    throw new IdxFormatError(labelsName, `label ${labels.data[bad]} at index ${bad}, expected a class below ${numClasses}`);
  }
  return images.shape[0];
}
