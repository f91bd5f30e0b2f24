import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { LocalDirectoryTarget, run } from '../src';
import { readDataset } from '../tasks/data/dataset-files';
import { incrementCount, incrementImages } from '../tasks/mnist/increments';
import { type IncrementDetails, PreprocessIncrement, PreprocessTestSet } from '../tasks/mnist/preprocess-task';
import { blockwiseSplit, seededSplit } from '../tasks/data/seeded-split';
import { MNIST_FILES, sourceLocation, PACKAGED_SOURCE } from '../tasks/mnist/source';
import { sha256Hex } from '../tasks/data/tensor-file';
import { type FlowResult, runFlowProcess } from './helpers/flow-process';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dagwright-mnist-pre-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const quiet = createLogger({ level: 'silent' });
const small = { increment: 2, incrementSize: 1000, validationFraction: 0.1, splitSeed: 7 };
const summaryOf = (result: FlowResult) => result.logs.find((l) => l.msg === 'run summary') as Record<string, any>;

async function filesOf(dir: string): Promise<Record<string, Buffer>> {
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as const)));
}

describe('increments and the split', () => {
  it('slices 60,000 images into increments, the last one holding all', () => {
    expect(incrementCount(10_000)).toBe(6);
    expect(incrementImages(1, 10_000)).toBe(10_000);
    expect(incrementImages(6, 10_000)).toBe(60_000);
    expect(incrementCount(7_000)).toBe(9);
    expect(incrementImages(9, 7_000)).toBe(60_000);
  });

  it('splits reproducibly: same seed same indices, another seed others, nothing lost', () => {
    const a = seededSplit(1000, 0.1, 7);
    expect(seededSplit(1000, 0.1, 7)).toEqual(a);
    expect(seededSplit(1000, 0.1, 8).validation).not.toEqual(a.validation);
    expect(a.validation).toHaveLength(100);
    const all = [...a.train, ...a.validation].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe('the split increment by increment (--split-by increment)', () => {
  it('keeps every image on its side as increments grow, and splits each increment as a whole split would', () => {
    const two = blockwiseSplit(2000, 1000, 0.1, 7);
    const three = blockwiseSplit(2500, 1000, 0.1, 7);
    expect(Array.from(three.train.filter((i) => i < 2000))).toEqual(Array.from(two.train));
    expect(Array.from(three.validation.filter((i) => i < 2000))).toEqual(Array.from(two.validation));
    expect(Array.from(blockwiseSplit(1000, 1000, 0.1, 7).validation)).toEqual(Array.from(seededSplit(1000, 0.1, 7).validation));
    expect(three.validation).toHaveLength(100 + 100 + 50);
    expect([...three.train, ...three.validation].sort((a, b) => a - b)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
  });
});

describe('preprocessing', () => {
  it('writes normalised float32 tensors and a manifest that describes them', async () => {
    const store = join(root, 'one');
    const summary = await run([new PreprocessIncrement({ ...small, store }), new PreprocessTestSet({ store })], { logger: quiet });
    expect(summary.ok).toBe(true);
    const task = new PreprocessIncrement({ ...small, store });
    const data = await readDataset<IncrementDetails>(task.output());
    const { details, tensors } = data.manifest;
    expect(details).toMatchObject({
      kind: 'mnist-train-increment',
      increment: 2,
      incrementSize: 1000,
      increments: 60,
      images: 2000,
      split: { seed: 7, validationFraction: 0.1, train: 1800, validation: 200 },
      source: { location: PACKAGED_SOURCE },
    });
    expect(tensors.trainImages).toMatchObject({ file: 'trainImages.f32', dtype: 'float32', shape: [1800, 28, 28, 1], bytes: 1800 * 784 * 4 });
    expect(tensors.validationLabels).toMatchObject({ file: 'validationLabels.u8', dtype: 'uint8', shape: [200] });
    expect(details.classCounts.train.reduce((a, b) => a + b, 0)).toBe(1800);
    const sourceBytes = await readFile(join(sourceLocation(PACKAGED_SOURCE), MNIST_FILES.trainImages));
    expect(details.source.images).toEqual({ file: MNIST_FILES.trainImages, bytes: sourceBytes.byteLength, sha256: sha256Hex(sourceBytes) });

    const images = data.tensors.trainImages as Float32Array;
    expect(images).toBeInstanceOf(Float32Array);
    expect(Math.min(...images.subarray(0, 784 * 10))).toBe(0);
    expect(Math.max(...images.subarray(0, 784 * 10))).toBeLessThanOrEqual(1);
    // The first training image is the first image of the source (indices stay in order), scaled by 1/255.
    const firstIndex = seededSplit(2000, 0.1, 7).train[0];
    const raw = sourceBytes.subarray(16 + firstIndex * 784, 16 + (firstIndex + 1) * 784);
    expect(Array.from(images.subarray(0, 784))).toEqual(Array.from(raw, (v) => Math.fround(v / 255)));

    const test = await readDataset(new PreprocessTestSet({ store }).output());
    expect(test.manifest.tensors.testImages.shape).toEqual([10_000, 28, 28, 1]);
  });

  it('gives the same bytes for the same inputs, and other bytes for another split seed', async () => {
    const again = join(root, 'again');
    await run(new PreprocessIncrement({ ...small, store: again }), { logger: quiet });
    const first = await filesOf(new PreprocessIncrement({ ...small, store: join(root, 'one') }).output().path);
    const second = await filesOf(new PreprocessIncrement({ ...small, store: again }).output().path);
    expect(Object.keys(second)).toEqual(['manifest.json', 'trainImages.f32', 'trainLabels.u8', 'validationImages.f32', 'validationLabels.u8']);
    for (const name of Object.keys(first)) expect(second[name].equals(first[name]), name).toBe(true);

    await run(new PreprocessIncrement({ ...small, splitSeed: 8, store: again }), { logger: quiet });
    const other = await filesOf(new PreprocessIncrement({ ...small, splitSeed: 8, store: again }).output().path);
    expect(other['trainLabels.u8'].equals(first['trainLabels.u8'])).toBe(false);
  });

  it('rejects a tensor file that no longer matches its manifest', async () => {
    const copy = join(root, 'tampered');
    await mkdir(copy);
    const dir = new PreprocessIncrement({ ...small, store: join(root, 'one') }).output().path;
    for (const name of await readdir(dir)) await copyFile(join(dir, name), join(copy, name));
    const labels = await readFile(join(copy, 'trainLabels.u8'));
    labels[0] = (labels[0] + 1) % 10;
    await writeFile(join(copy, 'trainLabels.u8'), labels);
    await expect(readDataset(new LocalDirectoryTarget(copy))).rejects.toThrow(/trainLabels\.u8: sha256 \w+ does not match the manifest's/);
  });
});

// Child processes: slow to start when the machine is loaded.
describe('flows/preprocess.ts', { timeout: 180_000 }, () => {
  it('fails naming the file when --source holds a truncated or foreign IDX file (exit 1)', async () => {
    const source = join(root, 'corrupt-source');
    await mkdir(source);
    const packaged = sourceLocation(PACKAGED_SOURCE);
    for (const name of Object.values(MNIST_FILES)) await copyFile(join(packaged, name), join(source, name));
    const images = await readFile(join(source, MNIST_FILES.trainImages));
    await writeFile(join(source, MNIST_FILES.trainImages), images.subarray(0, 100_000));
    await writeFile(join(source, MNIST_FILES.testLabels), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4]));

    const result = await runFlowProcess('flows/preprocess.ts', ['--source', source, '--store', join(root, 'corrupt-store'), '--executor', 'inprocess']);
    expect(result.code).toBe(1);
    const failures = result.logs.filter((l) => l.msg === 'task failed').map((l) => (l.err as { message: string }).message);
    expect(failures).toHaveLength(2);
    expect(failures).toContainEqual(expect.stringMatching(new RegExp(`${join(source, MNIST_FILES.trainImages)}: not a valid IDX file: file truncated`)));
    expect(failures).toContainEqual(expect.stringMatching(new RegExp(`${join(source, MNIST_FILES.testLabels)}: not a valid IDX file: magic number starts with 0x1f 0x8b`)));
    expect(summaryOf(result).counts).toMatchObject({ failed: 2 });
  });

  it('fails naming the missing files when --source lacks some', async () => {
    const source = join(root, 'empty-source');
    await mkdir(source);
    const result = await runFlowProcess('flows/preprocess.ts', ['--source', source, '--store', join(root, 'empty-store'), '--executor', 'inprocess']);
    expect(result.code).toBe(1);
    const failure = result.logs.find((l) => l.msg === 'task failed');
    expect((failure?.err as { message: string }).message).toContain(`is missing ${join(source, MNIST_FILES.trainImages)}`);
  });

  it.each([
    ['0', 'expected an integer >= 1'],
    ['abc', 'expected an integer >= 1'],
    ['7', '--increment got 7; expected an integer from 1 to 6 (60000 training images in increments of 10000)'],
  ])('exits 2 for --increment %s, before anything runs', async (value, message) => {
    const store = join(root, `bad-increment-${value}`);
    const result = await runFlowProcess('flows/preprocess.ts', ['--increment', value, '--store', store, '--executor', 'inprocess']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    await expect(readdir(store)).rejects.toThrow();
  });

  it('accepts an increment that exists only with a smaller --increment-size', async () => {
    const result = await runFlowProcess('flows/preprocess.ts', ['--increment', '7', '--increment-size', '5000', '--store', join(root, 'size'), '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('would run PreprocessIncrement');
  });
});
