/**
 * The drift loop end to end, in process, with small settings: a real MNIST
 * model trained and registered, the real model server on loopback, traffic
 * over plain HTTP, the prediction log, the monitor, retraining with labelled
 * optdigits, the champion decision and the server's swap.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { run } from '../src';
import { type DriftDemoResult, runDriftDemo } from '../flows/drift-demo';
import type { DriftSummary } from '../tasks/drift/report';
import { MonitorDrift } from '../tasks/mnist/monitor-task';
import { ModelRegistry } from '../tasks/registry/registry';

let store: string;
let result: DriftDemoResult;
const logger = createLogger({ level: 'warn' });

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-drift-loop-'));
  result = await runDriftDemo({ store, incrementSize: 3000, increment: 1, epochs: 3, validationFraction: 0.2, window: 200, executor: 'inprocess', logger });
}, 900_000);
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

describe('the drift loop', () => {
  it('finds no drift in MNIST traffic and drift in optdigits traffic', () => {
    expect([result.executor, result.server]).toEqual(['inprocess', 'in-process']);
    expect(result.mnistDrift).toBe(false);
    expect(result.optdigitsDrift).toBe(true);
    expect(result.action).toBe('retrain');
    // Drift on the served version, or (once the retrained version serves) that verdict marked stale and left out.
    expect([`dagwright_drift_detected{model="mnist-digits",version="${result.firstVersion}"} 1`, 'dagwright_drift_report_stale 1']).toContain(result.driftMetric);
  });

  it('retrains with the labelled optdigits, moves the champion, the server swaps, and optdigits accuracy rises', async () => {
    expect(result.finalVersion).toBe(result.firstVersion + 1);
    expect(result.servedAfter).toBe(result.finalVersion);
    expect(result.optdigitsAccuracyAfter).toBeGreaterThan(result.optdigitsAccuracyBefore + 0.1);
    const record = await new ModelRegistry(store, 'mnist-digits').version(result.finalVersion);
    const lineage = record.lineage as { data: { uri: string }; evaluation: { testSources: string }; training: { params: { startFrom: number } } };
    expect(lineage.evaluation.testSources).toBe('mnist-test,optdigits:heldout');
    // It fine-tuned the champion that served when the retraining was claimed, as the claim records.
    expect(lineage.training.params.startFrom).toBe(result.firstVersion);
    const claim = JSON.parse(await readFile(join(store, 'monitoring', 'mnist-digits', 'retrain-claims', '1'), 'utf8'));
    expect(claim.startFrom).toBe(result.firstVersion);
    const manifest = JSON.parse(await readFile(join(lineage.data.uri, 'manifest.json'), 'utf8'));
    expect(manifest.details.labelBatches.map((b: { batchId: string }) => b.batchId)).toEqual(['optdigits-labelled']);
    expect(manifest.details.labelBatches[0].manifestSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('retrains from new weights with --no-fine-tune, whatever the claim names', () => {
    const monitor = (fineTune: boolean) => new MonitorDrift({ store, modelName: 'mnist-digits', fineTune, trainIncrement: 1, trainIncrementSize: 3000 });
    expect(monitor(true).retrainTask({ labelBatches: '', startFrom: 3 }).params.startFrom).toBe(3);
    expect(monitor(false).retrainTask({ labelBatches: '', startFrom: 3 }).params.startFrom).toBe(0);
  });

  it('writes latest.json per the contract and self-contained reports', async () => {
    const latest = JSON.parse(await readFile(join(store, 'monitoring', 'mnist-digits', 'latest.json'), 'utf8')) as DriftSummary;
    expect(latest).toMatchObject({ model: 'mnist-digits', version: result.firstVersion, drift: true, window: { kind: 'prediction-log', count: 200 } });
    expect(Date.parse(latest.time)).not.toBeNaN();
    expect(latest.tests.map((t) => t.name)).toEqual(['class-probabilities-ks', 'entropy-ks', 'predicted-class-chi2', 'embedding-mmd', 'image-statistics']);
    for (const t of latest.tests) expect(typeof t.statistic === 'number' && typeof t.threshold === 'number' && typeof t.drift === 'boolean').toBe(true);
    expect(latest.report).toBe(result.reports[1]);
    const html = await readFile(latest.html, 'utf8');
    expect(html).toContain('Drift detected');
    expect(html.match(/<svg/g)?.length).toBeGreaterThanOrEqual(7);
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    const report = JSON.parse(await readFile(latest.report, 'utf8'));
    expect(report.histograms.length).toBe(7);
    expect(report.window.servedBy).toEqual([result.firstVersion]);
  });

  it('acts on a drifted window once, and starts no second retraining within the cooldown', async () => {
    const events = await readdir(join(store, 'monitoring', 'mnist-digits', 'events'));
    expect(events).toHaveLength(1);
    const monitor = (last: number, version: number, until: string) =>
      new MonitorDrift({ store, modelName: 'mnist-digits', version, last, until, trainIncrement: 1, trainIncrementSize: 3000, trainEpochs: 3 });
    // The same window again (another monitor, later): already handled.
    const report = JSON.parse(await readFile(result.reports[1], 'utf8'));
    const again = monitor(200, result.firstVersion, report.window.until);
    expect((await run(again, { logger })).ok).toBe(true);
    expect((await again.output().readJson<{ action: string }>()).action).toBe('already-handled');
    // Another drifted window of the old version: cooldown, no claim.
    const other = monitor(150, result.firstVersion, report.window.until);
    expect((await run(other, { logger })).ok).toBe(true);
    expect((await other.output().readJson<{ action: string }>()).action).toBe('cooldown');
    expect(await readdir(join(store, 'monitoring', 'mnist-digits', 'retrain-claims'))).toEqual(['1']);
    expect((await new ModelRegistry(store, 'mnist-digits').versions()).length).toBe(result.finalVersion);
  });
});
