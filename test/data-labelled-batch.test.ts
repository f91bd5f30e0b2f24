import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelledBatchError, listLabelledBatches, readLabelledBatch, writeLabelledBatch } from '../tasks/data/labelled-batch';

let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-labels-'));
});
afterEach(async () => {
  await rm(store, { recursive: true, force: true });
});

function samples(n: number, seed: number) {
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31 + seed * 7) % 256;
  const labels = Uint8Array.from({ length: n }, (_, i) => (i + seed) % 10);
  return { pixels, labels, source: `test:${seed}` };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('labelled batches', () => {
  it('writes <store>/labels/<id>/ with images.u8, labels.u8 and a manifest that reads back identical', async () => {
    const batch = samples(12, 3);
    const manifest = await writeLabelledBatch(store, 'ui-batch-1', batch);
    expect(manifest).toMatchObject({ batchId: 'ui-batch-1', count: 12, source: 'test:3', shape: [12, 28, 28] });
    const dir = join(store, 'labels', 'ui-batch-1');
    const images = await readFile(join(dir, 'images.u8'));
    const labels = await readFile(join(dir, 'labels.u8'));
    expect(manifest.files).toEqual({ 'images.u8': sha256(images), 'labels.u8': sha256(labels) });
    expect(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))).toEqual(manifest);
    expect(Date.parse(manifest.created)).not.toBeNaN();
    expect(manifest.classCounts.reduce((a, b) => a + b, 0)).toBe(12);

    const read = await readLabelledBatch(store, 'ui-batch-1');
    expect(Buffer.from(read.pixels).equals(Buffer.from(batch.pixels))).toBe(true);
    expect([...read.labels]).toEqual([...batch.labels]);
    expect(read.source).toBe('test:3');
    expect(read.manifestSha256).toBe(sha256(await readFile(join(dir, 'manifest.json'))));
  });

  it('lists published batches oldest first, and none in an empty store', async () => {
    expect(await listLabelledBatches(store)).toEqual([]);
    await writeLabelledBatch(store, 'first', samples(2, 1));
    await new Promise((r) => setTimeout(r, 5));
    await writeLabelledBatch(store, 'second', samples(3, 2));
    const list = await listLabelledBatches(store);
    expect(list.map((m) => [m.batchId, m.count])).toEqual([
      ['first', 2],
      ['second', 3],
    ]);
  });

  it('writing the same samples again is a no-op; other samples under the same name are refused', async () => {
    const first = await writeLabelledBatch(store, 'b', samples(4, 1));
    expect(await writeLabelledBatch(store, 'b', samples(4, 1))).toEqual(first);
    await expect(writeLabelledBatch(store, 'b', samples(4, 2))).rejects.toThrow(/already exists .* choose another name/);
  });

  it('refuses bad input, naming what is wrong, and writes nothing', async () => {
    const ok = samples(2, 0);
    await expect(writeLabelledBatch(store, '../escape', ok)).rejects.toThrow(/name "..\/escape" is not valid/);
    await expect(writeLabelledBatch(store, 'x', { ...ok, pixels: new Uint8Array(100) })).rejects.toThrow(/Expected 2 \* 784 = 1568 pixels for 2 labels, got 100/);
    await expect(writeLabelledBatch(store, 'x', { ...ok, labels: Uint8Array.of(1, 10) })).rejects.toThrow(/label 10 at index 1: expected a class 0-9/);
    await expect(writeLabelledBatch(store, 'x', { ...ok, source: ' ' })).rejects.toThrow(/source/);
    await expect(writeLabelledBatch(store, 'x', { pixels: new Uint8Array(0), labels: new Uint8Array(0), source: 's' })).rejects.toThrow(/at least one sample/);
    expect(await listLabelledBatches(store)).toEqual([]);
  });

  it('reading a missing batch or one whose files no longer match the manifest fails, not retryable', async () => {
    await expect(readLabelledBatch(store, 'nope')).rejects.toThrow(/no labelled batch "nope"/);
    await writeLabelledBatch(store, 'b', samples(3, 5));
    const labelsFile = join(store, 'labels', 'b', 'labels.u8');
    await writeFile(labelsFile, Uint8Array.of(9, 9, 9));
    const error = await readLabelledBatch(store, 'b').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabelledBatchError);
    expect((error as LabelledBatchError).kind).toBe('corrupt');
    expect((error as LabelledBatchError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/labels\.u8: sha256 .* does not match the manifest/);
    await writeFile(labelsFile, Uint8Array.of(1));
    await expect(readLabelledBatch(store, 'b')).rejects.toThrow(/labels\.u8: 1 bytes, the manifest's count 3 needs 3/);
  });
});
