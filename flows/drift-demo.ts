/**
 * The whole drift loop, end to end, on this machine:
 *
 *   1. train and register an MNIST model (champion v1)
 *   2. serve it (in process, 127.0.0.1, a free port), logging predictions
 *   3. MNIST traffic -> monitor: no drift
 *   4. optdigits traffic (held-out digits) -> accuracy before
 *   5. labelled optdigits arrive (their own labels stand in for a person's) -> monitor: drift,
 *      an event, retraining on MNIST + the labelled batch, registration; champion moves when the
 *      new model is better on MNIST test + optdigits held-out
 *   6. the server swaps to the new champion -> optdigits traffic again: accuracy after
 *
 *   npx ts-node flows/drift-demo.ts --store /tmp/drift-demo            # full settings (minutes)
 *   npx ts-node flows/drift-demo.ts --store /tmp/drift-demo --quick    # small settings (about a minute)
 */
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { createLogger, formatSummary, run, type RunSummary } from '../src';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import { MonitorDrift, type MonitorParams } from '../tasks/drift/monitor-task';
import { readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { type ImageBatch, sampleImages } from '../tasks/drift/sources/image-batch';
import { loadSource } from '../tasks/drift/sources/source-spec';
import { sendTraffic, trafficAccuracy } from '../tasks/drift/traffic';
import { RegisterModel } from '../tasks/mnist/register-task';
import { ModelRegistry } from '../tasks/registry/registry';
import { readPredictionLog, serveModel } from '../tasks/serving';

export interface DriftDemoOptions {
  readonly store: string;
  /** Training images per MNIST increment and the increment used (small settings for tests). */
  readonly incrementSize?: number;
  readonly increment?: number;
  readonly epochs?: number;
  readonly validationFraction?: number;
  /** Images per traffic window. */
  readonly window?: number;
  readonly logger?: Logger;
}

export interface DriftDemoResult {
  readonly firstVersion: number;
  readonly finalVersion: number;
  readonly servedAfter: number | undefined;
  readonly mnistDrift: boolean;
  readonly optdigitsDrift: boolean;
  readonly action: string;
  readonly optdigitsAccuracyBefore: number;
  readonly optdigitsAccuracyAfter: number;
  readonly mnistTestAccuracyAfter: number | undefined;
  readonly reports: string[];
  /** The server's dagwright_drift_detected line after the drifted window. */
  readonly driftMetric: string | undefined;
}

function check(summary: RunSummary, what: string): void {
  if (!summary.ok) throw new Error(`${what} failed:\n${formatSummary(summary)}`);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the demo (see the module comment); the server is stopped before it resolves. */
export async function runDriftDemo(options: DriftDemoOptions): Promise<DriftDemoResult> {
  const { store, incrementSize = 10_000, increment = 6, epochs = 5, validationFraction = 0.05, window = 200 } = options;
  const logger = options.logger ?? createLogger();
  const model = 'mnist-digits';
  const training = { store, increment, incrementSize, epochs, validationFraction, modelName: model };
  check(await run(new RegisterModel(training), { logger, workers: 1 }), 'training and registering');
  const registry = new ModelRegistry(store, model);
  const firstVersion = (await registry.resolve('champion')).version;
  logger.info({ version: firstVersion }, `demo: champion is version ${firstVersion}`);

  const server = await serveModel({ store, model, port: 0, pollMs: 200, predictionLog: { chunkRecords: 50, chunkMaxAgeMs: 100 }, logger });
  try {
    let logged = (await readPredictionLog(store, model)).length;
    const traffic = async (source: string, given?: ImageBatch) => {
      const images = given ?? sampleImages(await loadSource(source), window, 7);
      const result = await sendTraffic({ url: server.url, model, images, concurrency: 4 });
      if (result.failed > 0) throw new Error(`traffic from ${source}: ${result.failed} images failed: ${result.errors.join('; ')}`);
      logged += images.count;
      await waitFor('the prediction log', async () => ((await readPredictionLog(store, model)).length >= logged ? true : undefined), 30_000);
      return result;
    };
    const monitor = async (): Promise<{ drift: boolean; action: string; report: string }> => {
      const params: MonitorParams = { store, modelName: model, last: window, until: new Date().toISOString(), trainIncrement: increment, trainIncrementSize: incrementSize, trainEpochs: epochs, cooldownMinutes: 60 };
      const task = new MonitorDrift(params);
      check(await run(task, { logger, workers: 1 }), 'the monitor');
      return task.output().readJson();
    };

    await traffic('mnist-test');
    const quiet = await monitor();
    logger.info({ drift: quiet.drift }, `demo: MNIST traffic: ${quiet.drift ? 'drift (unexpected)' : 'no drift'}`);

    const { labelled, heldout } = await readOptdigitsSplit();
    const before = trafficAccuracy(await traffic('optdigits:heldout', sampleImages(heldout, window, 7)), sampleImages(heldout, window, 7).labels!);
    await writeLabelledBatch(store, 'optdigits-labelled', { pixels: labelled.pixels, labels: labelled.labels!, source: 'optdigits:labelled (own labels)' });
    const shifted = await monitor();
    // The server's /metrics reads the summary the monitor wrote.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const driftMetric = metrics.split('\n').find((l) => l.startsWith('dagwright_drift_detected{'));
    logger.info({ drift: shifted.drift, action: shifted.action }, `demo: optdigits traffic: ${shifted.drift ? 'drift' : 'no drift'}, ${shifted.action}`);

    const finalVersion = (await registry.resolve('champion')).version;
    if (finalVersion !== firstVersion) await waitFor(`the server to swap to version ${finalVersion}`, async () => (server.version === finalVersion ? true : undefined), 60_000);
    const heldWindow = sampleImages(heldout, window, 7);
    const after = trafficAccuracy(await traffic('optdigits:heldout', heldWindow), heldWindow.labels!);
    const record = await registry.version(finalVersion);
    const mnistAfter = (record.metrics as { testAccuracy?: number }).testAccuracy;
    logger.info({ before, after, firstVersion, finalVersion }, `demo: optdigits accuracy ${(before * 100).toFixed(1)}% -> ${(after * 100).toFixed(1)}%`);
    return {
      firstVersion,
      finalVersion,
      servedAfter: server.version,
      mnistDrift: quiet.drift,
      optdigitsDrift: shifted.drift,
      action: shifted.action,
      optdigitsAccuracyBefore: before,
      optdigitsAccuracyAfter: after,
      mnistTestAccuracyAfter: mnistAfter,
      reports: [quiet.report, shifted.report],
      driftMetric,
    };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { store: { type: 'string', default: './data/drift-demo' }, quick: { type: 'boolean', default: false } } });
  const settings = values.quick ? { incrementSize: 3000, increment: 1, epochs: 3, validationFraction: 0.2, window: 200 } : {};
  const result = await runDriftDemo({ store: values.store!, ...settings });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
