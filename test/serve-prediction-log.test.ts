import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PredictionLogWriter, readPredictionLog, recordPixels } from '../tasks/serving/prediction-log/prediction-log';
import { RecordLines } from '../tasks/serving/prediction-log/record-lines';
import { startFlow } from './helpers/flow-process';
import { freshBucket, s3Endpoint, s3TestClient } from './helpers/s3';
import { s3rverCredentials } from './helpers/s3-server';

const image = (value: number) => new Uint8Array(784).fill(value);
const entry = (i: number, time?: Date) => ({
  requestId: `req-${i}`,
  version: 3,
  shape: [28, 28],
  pixels: image(i % 256),
  probabilities: [0.25, 0.75],
  label: 1,
  time,
});

let store: string;
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'serve-log-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

describe('prediction log', () => {
  it('publishes chunks in the agreed layout, one JSON line per image', async () => {
    const writer = new PredictionLogWriter(store, 'layout', { chunkRecords: 4 });
    for (let i = 0; i < 10; i++) writer.append(entry(i));
    await writer.close();
    const day = new Date().toISOString().slice(0, 10);
    const files = await readdir(join(store, 'serving', 'layout', 'predictions', day));
    expect(files.filter((f) => f.endsWith('.jsonl'))).toHaveLength(3);
    const line = JSON.parse((await readFile(join(store, 'serving', 'layout', 'predictions', day, files.sort()[0]), 'utf8')).split('\n')[0]);
    expect(Object.keys(line).sort()).toEqual(['label', 'model', 'pixels', 'probabilities', 'requestId', 'shape', 'time', 'version']);
    expect(line).toMatchObject({ requestId: 'req-0', model: 'layout', version: 3, shape: [28, 28], probabilities: [0.25, 0.75], label: 1 });
    expect(Buffer.from(line.pixels, 'base64')).toHaveLength(784);
    const records = await readPredictionLog(store, 'layout');
    expect(records.map((r) => r.requestId)).toEqual(Array.from({ length: 10 }, (_, i) => `req-${i}`));
    expect(recordPixels(records[7])).toEqual(image(7));
    expect(writer.stats).toMatchObject({ written: 10, chunks: 3, dropped: 0, buffered: 0 });
  });

  it('reads the newest `last` records and those `since` a time', async () => {
    const writer = new PredictionLogWriter(store, 'window', { chunkRecords: 5 });
    const start = Date.parse('2026-11-29T23:59:50Z');
    for (let i = 0; i < 30; i++) writer.append(entry(i, new Date(start + i * 1000)));
    await writer.close();
    const last = await readPredictionLog(store, 'window', { last: 7 });
    expect(last.map((r) => r.requestId)).toEqual(['req-23', 'req-24', 'req-25', 'req-26', 'req-27', 'req-28', 'req-29']);
    const since = await readPredictionLog(store, 'window', { since: new Date(start + 25_000) });
    expect(since.map((r) => r.requestId)).toEqual(['req-25', 'req-26', 'req-27', 'req-28', 'req-29']);
    // Records crossed midnight: two day folders.
    expect((await readdir(join(store, 'serving', 'window', 'predictions'))).sort()).toEqual(['2026-11-29', '2026-11-30']);
    expect(await readPredictionLog(store, 'window', { last: 0 })).toEqual([]);
    expect(await readPredictionLog(store, 'nothing-logged')).toEqual([]);
    await expect(readPredictionLog(store, 'window', { last: -1 })).rejects.toThrow(/Expected `last` to be a whole number/);
  });

  it("logs a request's images under their prediction ids, splitting chunks mid-request", async () => {
    const writer = new PredictionLogWriter(store, 'batches', { chunkRecords: 4 });
    const pixels = new Uint8Array(3 * 784).map((_, i) => Math.floor(i / 784) + 10);
    const probabilities = Float32Array.from([0.1, 0.9, 0.7, 0.3, 0.5, 0.5]);
    writer.appendBatch({ requestId: 'one', version: 2, shape: [28, 28], count: 1, pixels: image(5), probabilities: [0.2, 0.8], labels: [1] });
    writer.appendBatch({ requestId: 'three', version: 2, shape: [28, 28], count: 3, pixels, probabilities, labels: [1, 0, 0] });
    writer.appendBatch({ requestId: 'three', version: 2, shape: [28, 28], count: 3, pixels, probabilities, labels: [1, 0, 0] });
    await writer.close();
    expect(writer.stats).toMatchObject({ written: 7, chunks: 2 });
    const records = await readPredictionLog(store, 'batches');
    expect(records.map((r) => r.requestId)).toEqual(['one', 'three#0', 'three#1', 'three#2', 'three#0', 'three#1', 'three#2']);
    expect(records[2]).toMatchObject({ version: 2, shape: [28, 28], probabilities: [Math.fround(0.7), Math.fround(0.3)], label: 0 });
    expect(recordPixels(records[3])).toEqual(new Uint8Array(784).fill(12));
  });

  it('writes each record exactly as JSON.stringify would', () => {
    const record = {
      time: '2026-12-07T09:00:00.123Z',
      requestId: 'quote " backslash \\ line \u2028 \u{1F600} #1',
      model: 'm\u00e9"x',
      version: 12,
      shape: [2, 2],
      pixels: new Uint8Array([0, 127, 255, 1]),
      probabilities: [Math.fround(0.1), 1e-21, 5e-324, -0, NaN, Infinity, 1, 0.30000000000000004],
      label: 7,
    };
    const lines = new RecordLines(record.model, record.version, record.shape);
    const line = lines.line(record.time, record.requestId, record.pixels, record.probabilities, 0, record.probabilities.length, record.label);
    expect(line).toBe(JSON.stringify({ ...record, pixels: Buffer.from(record.pixels).toString('base64') }));
    const some = lines.line(record.time, 'r', record.pixels, [9, 0.25, 0.75, 9], 1, 3, 1);
    expect(JSON.parse(some).probabilities).toEqual([0.25, 0.75]);
  });

  it('keeps memory bounded when storage falls behind: drops and counts instead', async () => {
    const writer = new PredictionLogWriter(store, 'bounded', { chunkRecords: 5, maxBufferedRecords: 10 });
    for (let i = 0; i < 100; i++) writer.append(entry(i)); // synchronous: no write can finish in between
    expect(writer.stats.buffered).toBe(10);
    expect(writer.stats.dropped).toBe(90);
    await writer.close();
    expect(await readPredictionLog(store, 'bounded')).toHaveLength(10);
  });

  it('samples and applies retention', async () => {
    const sampled = new PredictionLogWriter(store, 'sampled', { sampleRate: 0.5 });
    for (let i = 0; i < 2000; i++) sampled.append(entry(i));
    await sampled.close();
    const kept = (await readPredictionLog(store, 'sampled')).length;
    expect(kept).toBeGreaterThan(800);
    expect(kept).toBeLessThan(1200);
    expect(sampled.stats.sampledOut).toBe(2000 - kept);

    const old = new PredictionLogWriter(store, 'retained', { chunkRecords: 1 });
    old.append(entry(0, new Date(Date.now() - 10 * 86_400_000)));
    old.append(entry(1, new Date(Date.now() - 2 * 86_400_000)));
    await old.close();
    const retaining = new PredictionLogWriter(store, 'retained', { retentionDays: 3 });
    retaining.append(entry(2));
    await retaining.close();
    expect((await readPredictionLog(store, 'retained')).map((r) => r.requestId)).toEqual(['req-1', 'req-2']);
    expect(() => new PredictionLogWriter(store, 'x', { sampleRate: 2 })).toThrow(/Expected `sampleRate` to be between 0 and 1, got `2`/);
  });

  it('a SIGKILLed writer loses only its open chunk; every published chunk reads whole', async () => {
    const { child, done } = startFlow('test/fixtures/serve-log-writer.ts', [store, 'killed', '3', '40']);
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        stdout += d;
        if (stdout.includes('published')) resolve();
      });
      child.on('exit', () => reject(new Error(`writer exited early: ${stdout}`)));
    });
    child.kill('SIGKILL');
    const result = await done;
    expect(result.signal).toBe('SIGKILL');
    expect(stdout).toContain('published 120');
    const records = await readPredictionLog(store, 'killed');
    expect(records).toHaveLength(120);
    expect(records.map((r) => r.requestId)).toEqual(Array.from({ length: 120 }, (_, i) => `r${i}`));
    expect(recordPixels(records[119])).toEqual(image(119));
  });
});

describe('prediction log on S3', () => {
  it('writes and reads the same layout under an s3:// store', async () => {
    process.env.AWS_ENDPOINT_URL = s3Endpoint();
    process.env.DAGWRIGHT_S3_FORCE_PATH_STYLE = '1';
    process.env.AWS_ACCESS_KEY_ID = s3rverCredentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3rverCredentials.secretAccessKey;
    const bucket = await freshBucket(s3TestClient(), 'serve-log');
    const s3Store = `s3://${bucket}/store`;
    const writer = new PredictionLogWriter(s3Store, 'digits', { chunkRecords: 3 });
    for (let i = 0; i < 7; i++) writer.append(entry(i));
    await writer.close();
    expect(writer.stats).toMatchObject({ written: 7, chunks: 3 });
    const records = await readPredictionLog(s3Store, 'digits', { last: 4 });
    expect(records.map((r) => r.requestId)).toEqual(['req-3', 'req-4', 'req-5', 'req-6']);
  });
});
