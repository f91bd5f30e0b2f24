/**
 * The simulated month end to end, in process, with tiny settings: three
 * simulated days, real MNIST training under the promotion contract, the real
 * model server on 127.0.0.1 (port 0), traffic over HTTP with optdigits from
 * day 2, late labels joined by prediction id a day later, and the monitor
 * flow each day; every routine step a flow run recorded in the store.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStore, UsageError } from '../src';
import { createLogger } from '../src/public/runtime';
import { RunHistory } from '../src/public/store';
import { IN_DIST, type OperateResult, parseOperateArgs, runOperate, SHIFTED } from '../flows/operate';
import { listLabelledBatches, readLabelledBatch } from '../tasks/data/labelled-batch';
import { MNIST_PIXELS } from '../tasks/data/mnist-format';
import { loadSource } from '../tasks/drift/sources/source-spec';
import { readLateLabels } from '../tasks/labels/late-labels';
import type { DriftEvent } from '../tasks/drift/drift-events';
import { MIN_LABELLED } from '../tasks/drift/performance-gate';
import { currentContract } from '../tasks/registry/promotion-contract';
import { ModelRegistry } from '../tasks/registry/registry';
import { readPredictionLog } from '../tasks/serving';

const logger = createLogger({ level: 'warn' });
const settings = { retrainMinDrop: 0.02, days: 3, monitorsPerDay: 4, shiftDay: 2, shiftStep: 0.5, maxShift: 0.5, traffic: 40, labelShare: 0.5, labelDelay: 1, incrementSize: 1000, epochs: 1, retrainEpochs: 1, retrainMnist: 1000, logger };
let store: string;
let result: OperateResult;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-operate-'));
  result = await runOperate({ store, ...settings });
}, 900_000);
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

describe('a simulated month (tiny settings)', () => {
  it('runs the routine register flow each day and the monitor flow after each slice of traffic, each a run recorded in the store', async () => {
    const records = await RunHistory.forStore(parseStore(store)).list(100);
    const byFlow = (flow: string) => records.filter((r) => r.flow === flow);
    expect(byFlow('mnist-register')).toHaveLength(settings.days);
    expect(byFlow('drift-monitor')).toHaveLength(settings.days * settings.monitorsPerDay);
    expect(records.every((r) => r.status === 'succeeded')).toBe(true);
    expect(result.runs).toEqual({ 'mnist-register': settings.days, 'drift-monitor': settings.days * settings.monitorsPerDay });
  });

  it('sends every day its traffic over HTTP with no failure, optdigits only from the shift day, all answered by registered versions', async () => {
    const registered = (await new ModelRegistry(store, 'mnist-digits').versions()).map((v) => String(v.version));
    for (const day of result.timeline) {
      expect(day.requests).toBe(settings.traffic);
      expect(day.failedRequests).toBe(0);
      expect(Object.values(day.servedVersions).reduce((a, b) => a + b, 0)).toBe(settings.traffic);
      for (const v of Object.keys(day.servedVersions)) expect(registered).toContain(v);
      const shifted = day.bySource[SHIFTED]?.predictions ?? 0;
      expect(shifted).toBe(day.day < settings.shiftDay ? 0 : settings.traffic * settings.maxShift);
      expect(day.bySource[IN_DIST].predictions).toBe(settings.traffic - shifted);
      expect(day.verdicts).toHaveLength(settings.monitorsPerDay);
    }
    expect(result.figures.failed_requests).toBe(0);
  });

  it('checks, after each slice, the last day of traffic: a window sliding by the hour', async () => {
    const dir = join(store, 'monitoring', 'mnist-digits', 'monitor');
    const outputs = await Promise.all((await readdir(dir)).map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as { window: { count: number } }));
    const counts = outputs.map((o) => o.window.count).sort((a, b) => a - b);
    // Day 1 fills the window slice by slice; from then on every check sees a whole day's worth.
    const slice = settings.traffic / settings.monitorsPerDay;
    expect(counts).toEqual([slice, 2 * slice, 3 * slice, ...new Array<number>(settings.days * settings.monitorsPerDay - 3).fill(settings.traffic)]);
  });

  it("imports the sources' labels by prediction id after the delay, and scores realized and estimated accuracy on them", async () => {
    const [labels, log] = await Promise.all([readLateLabels(store, 'mnist-digits'), readPredictionLog(store, 'mnist-digits')]);
    const logged = new Set(log.map((r) => r.requestId));
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels) expect(logged.has(l.id)).toBe(true);
    const [first, , last] = result.timeline;
    expect(first.labelsImported).toBe(0);
    // Day 1's labels arrive on day 2 (delay 1); the last day's have not arrived when the month ends.
    expect(result.timeline[1].labelsImported).toBe(first.overall.labelled);
    expect(first.overall.labelled).toBeGreaterThan(settings.traffic * 0.2);
    expect(first.overall.labelled).toBeLessThan(settings.traffic * 0.8);
    expect(last.overall.labelled).toBe(0);
    expect(last.overall.realized).toBeNull();
    // The labels are the images' own: realized accuracy on them lies close to accuracy on all images.
    expect(Math.abs(first.overall.realized! - first.overall.truth!)).toBeLessThan(0.35);
    for (const day of result.timeline) expect(day.overall.estimated).toBeGreaterThan(0);
  });

  it('sends no image the promotion contract scores on, so none becomes training data through its late label', async () => {
    const hashes = (pixels: Uint8Array) => Array.from({ length: pixels.length / MNIST_PIXELS }, (_, i) => createHash('sha256').update(pixels.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS)).digest('hex'));
    const contract = await currentContract(new ModelRegistry(store, 'mnist-digits'));
    const scored = new Set<string>();
    for (const { source } of contract!.sources) for (const h of hashes((await loadSource(source)).pixels)) scored.add(h);
    expect(scored.size).toBeGreaterThan(5000);
    for (const source of [IN_DIST, SHIFTED]) expect(hashes((await loadSource(source)).pixels).filter((h) => scored.has(h))).toEqual([]);
    // What the late labels made of the traffic: the labelled batches retraining learns from.
    const batches = await listLabelledBatches(store);
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) expect(hashes((await readLabelledBatch(store, b.batchId)).pixels).filter((h) => scored.has(h))).toEqual([]);
  });

  it('moves champion only on a better contract score, and the timeline records the swaps', async () => {
    const decisions = await new ModelRegistry(store, 'mnist-digits').aliasDecisions();
    const swaps = decisions.filter((d) => d.alias === 'champion' && d.promoted && d.holder !== null);
    for (const d of swaps) expect(d.evidence!.margin!).toBeGreaterThan(0);
    expect(result.timeline.flatMap((d) => d.swaps).map((s) => s.version)).toEqual(swaps.map((d) => d.version));
    expect(result.figures.routine_regressions).toBe(0);
  });

  it('retrains on drift only when the serving version lost accuracy, and records the evidence for every decision', async () => {
    const dir = join(store, 'monitoring', 'mnist-digits', 'events');
    const events = await Promise.all((await readdir(dir)).map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as DriftEvent));
    const judged = events.filter((e) => e.performance);
    expect(judged.length).toBeGreaterThan(0);
    for (const { action, performance: e } of judged) {
      expect(e!.minDrop).toBe(settings.retrainMinDrop);
      const fell = [e!.realized?.accuracy, e!.estimated].some((a) => a !== undefined && a !== null && e!.referenceAccuracy! - a >= e!.minDrop);
      expect(action).toBe(fell ? 'retrain' : 'performance-holds');
      if (e!.realized) expect(e!.realized.labelled).toBeGreaterThanOrEqual(MIN_LABELLED);
    }
    expect(events.filter((e) => e.action === 'retrain').every((e) => e.performance?.dropped)).toBe(true);
  });

  it('writes the timeline as JSON and an HTML page in the store', async () => {
    const json = JSON.parse(await readFile(join(store, 'operate', 'timeline.json'), 'utf8')) as { timeline: unknown[]; figures: unknown };
    expect(json.timeline).toHaveLength(settings.days);
    expect(json.figures).toEqual(result.figures);
    const html = await readFile(join(store, 'operate', 'timeline.html'), 'utf8');
    expect(html).toContain('<table>');
    expect(html.match(/<tr><td>\d+<\/td>/g)).toHaveLength(settings.days);
  });
});

describe('bad settings', () => {
  it('are usage errors naming the option, and write nothing', async () => {
    expect(() => parseOperateArgs(['--days', 'many'])).toThrow(/--days got "many"; expected a number/);
    expect(() => parseOperateArgs(['--dayz', '3'])).toThrow(UsageError);
    expect(() => parseOperateArgs(['--seed', '3'])).toThrow(/--seed, --kill-rate and --max-kills-per-run go with --chaos/);
    expect(() => parseOperateArgs(['--chaos', '--kill-rate', '1.5'])).toThrow(/--kill-rate got 1.5; expected a chance in \[0, 1\]/);
    expect(() => parseOperateArgs(['--chaos', '--max-kills-per-run', '1.5'])).toThrow(/--max-kills-per-run got 1.5; expected a whole number/);
    expect(parseOperateArgs(['--chaos', '--seed', '7', '--days', '4'])).toMatchObject({ days: 4, chaos: { seed: 7 } });
    const empty = join(tmpdir(), `dagwright-operate-unused-${process.pid}`);
    await expect(runOperate({ store: empty, labelShare: 0 })).rejects.toThrow(/--label-share got 0/);
    await expect(stat(empty)).rejects.toThrow(/ENOENT/);
  });
});
