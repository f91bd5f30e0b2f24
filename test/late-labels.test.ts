/**
 * Labels arriving after the prediction, keyed by the id the server returned:
 * imported with `dagwright labels import` (CSV and JSONL), joined with the
 * prediction log into realized accuracy per window and version, refused
 * whole for an unknown id or a second, different label (nothing written),
 * and turned into a labelled batch retraining can read. A real server on
 * loopback, real HTTP, a real model.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { labelsCommand } from '../app/cli/labels';
import { readLabelledBatch } from '../tasks/data/labelled-batch';
import { readRealizedAccuracy } from '../tasks/labels/realized-accuracy';
import { serveModel } from '../tasks/serving';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';

let store: string;
const pixels = testImages(7, 5);
let ids: string[] = [];
let predicted: number[] = [];

async function cli(...args: string[]) {
  let out = '';
  let err = '';
  const code = await labelsCommand([...args, '--store', store], { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}
const imports = async () => (await readdir(join(store, 'feedback', 'mnist-digits', 'labels')).catch(() => [])).length;
async function labelFile(name: string, text: string): Promise<string> {
  const file = join(store, name);
  await writeFile(file, text);
  return file;
}

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-late-labels-'));
  await registerSeededModel(store, 'mnist-digits', 3, 'champion');
  const server = await serveModel({ store, port: 0, logger: createLogger({ level: 'silent' }), predictionLog: { chunkRecords: 3 } });
  try {
    for (const [id, from, to] of [['batch-a', 0, 6], ['single-b', 6, 7]] as const) {
      const reply = await call(`${server.url}/v2/models/mnist-digits/infer`, { body: uint8Request(pixels.subarray(from * 784, to * 784), 'flat', id) });
      const body = reply.body as { parameters: { prediction_ids: string[] }; outputs: { name: string; data: number[] }[] };
      ids.push(...body.parameters.prediction_ids);
      predicted.push(...body.outputs.find((o) => o.name === 'label')!.data);
    }
  } finally {
    await server.stop();
  }
}, 120_000);
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

describe('late labels by prediction id', () => {
  it('the server returns one prediction id per image: the request id, plus #index in a batch', () => {
    expect(ids).toEqual(['batch-a#0', 'batch-a#1', 'batch-a#2', 'batch-a#3', 'batch-a#4', 'batch-a#5', 'single-b']);
  });

  it('imports CSV labels; realized accuracy joins them with the predictions', async () => {
    // Four right, two wrong; the single image has no label yet.
    const rows = ids.slice(0, 6).map((id, i) => `${id},${i < 4 ? predicted[i] : (predicted[i] + 1) % 10}`);
    const imported = await cli('import', await labelFile('first.csv', `id,label\n${rows.join('\n')}\n`));
    expect(imported).toMatchObject({ code: 0, out: 'imported 6 label(s) for mnist-digits\n' });
    const accuracy = JSON.parse((await cli('accuracy', '--window', 'every-100', '--json')).out);
    expect(accuracy.points).toEqual([expect.objectContaining({ version: 1, predictions: 7, labelled: 6, correct: 4, accuracy: 4 / 6 })]);
    expect((await readRealizedAccuracy(store, 'mnist-digits', 'every-100'))?.points[0].correct).toBe(4);
  });

  it('refuses an unknown id or a second, different label whole, writing nothing; the same label again is skipped', async () => {
    const before = await imports();
    const unknown = await cli('import', await labelFile('unknown.csv', `single-b,${predicted[6]}\nno-such-request#3,1\n`));
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no-such-request#3');
    expect(unknown.err).toContain('nothing was imported');
    const conflict = await cli('import', await labelFile('conflict.jsonl', `{"id":"batch-a#0","label":${(predicted[0] + 5) % 10}}\n`));
    expect(conflict.code).toBe(1);
    expect(conflict.err).toContain('batch-a#0');
    const bad = await cli('import', await labelFile('bad.csv', 'batch-a#1,eleven\n'));
    expect(bad.code).toBe(2);
    expect(await imports()).toBe(before);
    const again = await cli('import', await labelFile('again.jsonl', `{"id":"batch-a#1","label":${predicted[1]}}\n{"id":"single-b","label":${predicted[6]}}\n`));
    expect(again).toMatchObject({ code: 0, out: 'imported 1 label(s) for mnist-digits (1 already recorded with the same label, skipped)\n' });
    const accuracy = JSON.parse((await cli('accuracy', '--window', 'day', '--json')).out);
    expect(accuracy.points).toEqual([expect.objectContaining({ version: 1, predictions: 7, labelled: 7, correct: 5 })]);
  });

  it('writes the labelled predictions as a labelled batch retraining can read', async () => {
    expect((await cli('batch', 'served-labelled')).code).toBe(0);
    const batch = await readLabelledBatch(store, 'served-labelled');
    expect(batch.labels.length).toBe(7);
    expect(batch.pixels.subarray(0, 784)).toEqual(pixels.subarray(0, 784));
    expect(batch.labels[0]).toBe(predicted[0]);
  });
});
