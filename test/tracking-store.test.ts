import { parseStore } from '../src/store/store';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalTarget } from '../src/targets/file-target';
import { trackingLimits, TrackingError } from '../src/tracking/limits';
import { readRunTracking } from '../src/tracking/read-tracking';
import { StoreTracking } from '../src/tracking/store-tracking';
import { readTaskLog, TaskLogSink } from '../src/tracking/task-logs';
import { freshBucket, s3Endpoint, s3TestClient } from './helpers/s3';

let store: string;
beforeEach(() => {
  store = mkdtempSync(join(tmpdir(), 'dagwright-tracking-'));
});
afterEach(() => rmSync(store, { recursive: true, force: true }));

const runId = '20261201T100000Z-abc123';

describe('StoreTracking: MLflow rules', () => {
  it('sets a parameter once: the same value again is fine, another value is refused', async () => {
    const t = new StoreTracking(parseStore(store), runId, 'Train_abc', 1);
    t.logParam('epochs', 5);
    t.logParam('epochs', '5');
    expect(() => t.logParam('epochs', 6)).toThrow(TrackingError);
    expect(() => t.logParam('epochs', 6)).toThrow(/already "5"; a parameter is set once/);
    await t.flush();
    expect((await readRunTracking(parseStore(store), runId)).params).toEqual({ epochs: '5' });
  });

  it('refuses a whole logParams batch when one entry breaks a rule', async () => {
    const t = new StoreTracking(parseStore(store), runId, 'Train_abc', 1);
    t.logParam('lr', 0.1);
    expect(() => t.logParams({ seed: 1, lr: 0.2 })).toThrow(TrackingError);
    await t.flush();
    expect((await readRunTracking(parseStore(store), runId)).params).toEqual({ lr: '0.1' });
  });

  it("bounds keys and values as MLflow does", () => {
    const t = new StoreTracking(parseStore(store), runId, 'T', 1);
    expect(() => t.logParam('k'.repeat(trackingLimits.keyLength + 1), 1)).toThrow(/limit is 250/);
    t.logParam('k'.repeat(250), 1);
    expect(() => t.logParam('big', 'x'.repeat(6001))).toThrow(/limit is 6000/);
    t.logParam('fits', 'x'.repeat(6000));
    expect(() => t.setTag('note', 'x'.repeat(8001))).toThrow(/limit is 8000/);
    t.setTag('note', 'x'.repeat(8000));
    expect(() => t.logParam('../escape', 1)).toThrow(/not valid/);
    expect(() => t.logMetric('loss', Number('x') as never, 1.5)).toThrow(/step must be an integer/);
    expect(() => t.logMetric('loss', '1' as never)).toThrow(/must be a number/);
  });

  it('appends metrics with steps and times, lets tags change, keeps NaN', async () => {
    const t = new StoreTracking(parseStore(store), runId, 'Train_abc', 1);
    const before = Date.now();
    t.logMetric('loss', 0.9);
    t.logMetric('loss', 0.5);
    t.logMetric('loss', 0.4, 10);
    t.logMetric('loss', 0.3);
    t.logMetric('odd', NaN);
    t.setTag('stage', 'dev');
    t.setTag('stage', 'prod');
    t.logArtifact('model', new LocalTarget(join(store, 'model.json')));
    await t.flush();
    const tracked = await readRunTracking(parseStore(store), runId);
    const points = tracked.attempts[0].metrics.filter((p) => p.key === 'loss');
    expect(points.map((p) => [p.step, p.value])).toEqual([[0, 0.9], [1, 0.5], [10, 0.4], [11, 0.3]]);
    expect(points.every((p) => p.time >= before && p.time <= Date.now())).toBe(true);
    expect(tracked.metrics.loss).toBe(0.3);
    expect(Number.isNaN(tracked.metrics.odd)).toBe(true);
    expect(tracked.tags).toEqual({ stage: 'prod' });
    expect(tracked.attempts[0].artifacts).toEqual([{ name: 'model', uri: join(store, 'model.json') }]);
  });

  it('writes in batches: nothing before the flush interval, everything after it', async () => {
    const t = new StoreTracking(parseStore(store), runId, 'Train_abc', 1, undefined, { flushMs: 150 });
    t.logMetric('loss', 1);
    expect((await readRunTracking(parseStore(store), runId)).attempts).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 400));
    expect((await readRunTracking(parseStore(store), runId)).metrics).toEqual({ loss: 1 });
  });

  it('seals segments so a flush rewrites only the open one, and reads them back in order', async () => {
    const t = new StoreTracking(parseStore(store), runId, 'Train_abc', 2, undefined, { segmentPoints: 10, batchPoints: 4 });
    for (let i = 0; i < 35; i++) t.logMetric('acc', i / 100);
    await t.flush();
    const files = readdirSync(join(store, '_run-data', runId, 'tracking', 'Train_abc')).sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    const tracked = await readRunTracking(parseStore(store), runId);
    expect(tracked.attempts[0].attempt).toBe(2);
    expect(tracked.attempts[0].metrics.map((p) => p.step)).toEqual([...Array(35).keys()]);
  });

  it('works against S3 (s3rver)', async () => {
    const client = s3TestClient();
    const bucket = await freshBucket(client, 'tracking');
    const s3store = `s3://${bucket}/store`;
    // The shared S3 client is made on first use from the standard configuration.
    Object.assign(process.env, { AWS_ENDPOINT_URL: s3Endpoint(), AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', DAGWRIGHT_S3_FORCE_PATH_STYLE: '1' });
    {
      const t = new StoreTracking(parseStore(s3store), runId, 'Train_abc', 1);
      t.logParams({ epochs: 2 });
      t.logMetric('loss', 0.25, 3);
      await t.flush();
      const tracked = await readRunTracking(parseStore(s3store), runId);
      expect(tracked.params).toEqual({ epochs: '2' });
      expect(tracked.metrics).toEqual({ loss: 0.25 });
    }
  });
});

describe('TaskLogSink', () => {
  it('keeps each task\'s lines with its run, bounded to the head and the newest lines', async () => {
    const sink = new TaskLogSink(parseStore(store), undefined, { maxBytes: 4000, headBytes: 1000 });
    for (let i = 0; i < 200; i++) sink.write(`${JSON.stringify({ level: 30, runId, taskId: 'A_1', msg: `line ${i}` })}\n`);
    sink.write(`${JSON.stringify({ level: 30, runId, taskId: 'B <x>', msg: 'other task' })}\n`);
    sink.write(`${JSON.stringify({ level: 30, msg: 'no run: not kept' })}\n`);
    await sink.flush();
    const a = (await readTaskLog(parseStore(store), runId, 'A_1'))!;
    expect(a.length).toBeLessThanOrEqual(4300);
    expect(a).toContain('"line 0"');
    expect(a).toContain('"line 199"');
    expect(a).toMatch(/\d+ log line\(s\) dropped/);
    expect(a).not.toContain('"line 100"');
    expect(await readTaskLog(parseStore(store), runId, 'B <x>')).toContain('other task');
  });
});
