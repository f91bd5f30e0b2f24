/**
 * A version's drift reference drawn from the data its lineage names,
 * stratified by source: on a small data set written here (exact shares,
 * held-out images first, oversampled repeats drawn once, the added sources
 * capped), and on a real retrained MNIST model (MNIST plus a batch of labelled
 * optdigits, a quarter of its data): its reference does not call plain MNIST
 * traffic drift, and still calls optdigits traffic drift.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryTarget, run } from '../src';
import { createLogger, formatSummary } from '../src/public/runtime';
import { readDataset, uint8, writeDataset } from '../tasks/data/dataset-files';
import { TRAIN_SOURCES, VALIDATION_SOURCES } from '../tasks/data/data-sources';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import { MNIST_PIXELS } from '../tasks/data/mnist-format';
import { cbpeFromReference } from '../tasks/drift/cbpe';
import { DriftCheck, REPORT_JSON } from '../tasks/drift/check-task';
import { DriftReference, readReference, referenceTarget } from '../tasks/drift/reference-task';
import { sampleTrainingData, sourceWeights, stratumQuotas } from '../tasks/drift/reference-sample';
import type { DriftReport } from '../tasks/drift/report';
import { readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { RegisterModel } from '../tasks/mnist/register-task';
import { RegisterRetrained } from '../tasks/mnist/retrain-task';
import { ModelRegistry } from '../tasks/registry/registry';
import { directoryAt } from '../tasks/store';

const logger = createLogger({ level: 'warn' });
let store: string;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-reference-lineage-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

/** Image `id` as float pixels that differ from every other id's. */
function imageOf(id: number, out: Float32Array, at: number): void {
  out[at * MNIST_PIXELS] = ((id % 255) + 1) / 255;
  out[at * MNIST_PIXELS + 1] = Math.floor(id / 255) / 255;
}

/**
 * A two-source data set: `base` images (10% held out) and `added` ones (5 held out, each of
 * the rest repeated 10 times in the training part, as a drift increment oversamples).
 */
async function twoSourceData(name: string, base: number, added: number): Promise<string> {
  const baseHeld = base / 10;
  const rows = { validation: [] as [number, number][], train: [] as [number, number][] };
  for (let id = 0; id < base; id++) rows[id < baseHeld ? 'validation' : 'train'].push([id, 0]);
  for (let k = 0; k < added; k++) {
    const id = base + k;
    if (k < 5) rows.validation.push([id, 1]);
    else for (let r = 0; r < 10; r++) rows.train.push([id, 1]);
  }
  const part = (list: [number, number][]) => {
    const images = new Float32Array(list.length * MNIST_PIXELS);
    list.forEach(([id], i) => imageOf(id, images, i));
    return { images: { values: images, shape: [list.length, 28, 28, 1] }, labels: { values: Uint8Array.from(list, ([id]) => id % 10), shape: [list.length] }, sources: { values: Uint8Array.from(list, ([, s]) => s), shape: [list.length] } };
  };
  const [v, t] = [part(rows.validation), part(rows.train)];
  const dir = directoryAt(store, 'data', name);
  await dir.write((w) =>
    writeDataset(w, { trainImages: t.images, trainLabels: t.labels, validationImages: v.images, validationLabels: v.labels, [TRAIN_SOURCES]: t.sources, [VALIDATION_SOURCES]: v.sources }, { sources: [{ name: 'base', images: base }, { name: 'added', images: added }] }).then(() => undefined),
  );
  return dir.uri;
}

describe('drawing a reference from a version’s data', () => {
  it('splits a size by weight exactly, and caps the added sources at their share', () => {
    expect(stratumQuotas([900, 100], 105)).toEqual([95, 10]);
    expect(stratumQuotas([1, 1, 1], 10).reduce((a, b) => a + b, 0)).toBe(10);
    expect(sourceWeights([900, 100], 0.1)).toEqual([900, 100]);
    const capped = sourceWeights([3000, 1000, 500], 0.1);
    expect(capped[0]).toBeCloseTo(0.9);
    expect(capped[1] / capped[2]).toBeCloseTo(2);
  });

  it('gives each source its share of the distinct images, held-out images first, each repeated image once', async () => {
    const sample = await sampleTrainingData(await twoSourceData('proportional', 900, 100), 3000, 1);
    // 90 + 5 held out: the reference is as large as the held-out part; the added source's 10% is 10 images.
    expect(sample.batch.count).toBe(95);
    expect(sample.strata).toEqual([
      { name: 'base', images: 900, drawn: 86, heldOut: 86 },
      { name: 'added', images: 100, drawn: 9, heldOut: 5 },
    ]);
    expect(sample.heldOut.reduce((a, b) => a + b, 0)).toBe(91);
    const added = Array.from({ length: sample.batch.count }, (_, i) => i).filter((i) => sample.sources[i] === 1);
    const keys = added.map((i) => `${sample.batch.pixels[i * MNIST_PIXELS]},${sample.batch.pixels[i * MNIST_PIXELS + 1]}`);
    expect(new Set(keys).size).toBe(added.length);
    // Reproducible: the same seed draws the same images.
    const again = await sampleTrainingData(await twoSourceData('proportional', 900, 100), 3000, 1);
    expect(Buffer.from(again.batch.pixels).equals(Buffer.from(sample.batch.pixels))).toBe(true);
  });

  it('keeps the added sources to 10% when they are a larger part of the data', async () => {
    const sample = await sampleTrainingData(await twoSourceData('capped', 900, 400), 3000, 1);
    expect(sample.batch.count).toBe(95);
    expect(sample.strata.map((s) => s.drawn)).toEqual([86, 9]);
  });
});

describe('the reference of a retrained MNIST version', () => {
  const model = 'lineage-digits';
  let retrained: number;

  beforeAll(async () => {
    const first = await run(new RegisterModel({ store, modelName: model, increment: 1, incrementSize: 3000, epochs: 2, validationFraction: 0.2 }), { logger, workers: 1 });
    if (!first.ok) throw new Error(formatSummary(first));
    const { labelled } = await readOptdigitsSplit();
    await writeLabelledBatch(store, 'optdigits-labelled', { pixels: labelled.pixels, labels: labelled.labels!, source: 'optdigits:labelled (own labels)' });
    // As the quick drift demo retrains: 3,000 MNIST images and 1,078 labelled optdigits, a fifth held out.
    const retrain = new RegisterRetrained({ store, modelName: model, increment: 1, incrementSize: 3000, epochs: 2, validationFraction: 0.2, labelBatches: 'optdigits-labelled', oversample: 1, testSources: 'optdigits:heldout' });
    const second = await run(retrain, { logger, workers: 1 });
    if (!second.ok) throw new Error(formatSummary(second));
    retrained = Math.max(...(await new ModelRegistry(store, model).versions()).map((v) => v.version));
    const reference = await run(new DriftReference({ store, modelName: model, version: retrained }), { logger });
    if (!reference.ok) throw new Error(formatSummary(reference));
  }, 900_000);

  it('is drawn from MNIST and the labelled optdigits, the optdigits kept to 10%', async () => {
    const { details } = await readReference(store, model, retrained);
    expect(details.data.source).toBe('lineage');
    const [mnist, optdigits] = details.data.strata!;
    expect(mnist).toMatchObject({ name: 'mnist-train[0:3000]', images: 3000 });
    expect(optdigits).toMatchObject({ name: 'optdigits:labelled (own labels)', images: 1078 });
    expect(mnist.drawn + optdigits.drawn).toBe(details.count);
    expect(optdigits.drawn / details.count).toBeCloseTo(0.1, 2);
    // Every held-out MNIST image first, then (its share being larger) MNIST images it trained on.
    const validationSources = uint8(await readDataset(directoryTarget(details.data.uri!), [VALIDATION_SOURCES]), VALIDATION_SOURCES);
    expect(mnist.heldOut).toBe(Math.min(mnist.drawn, validationSources.filter((s) => s === 0).length));
    expect(optdigits.heldOut).toBe(Math.min(optdigits.drawn, validationSources.filter((s) => s === 1).length));
    // CBPE calibrates on the held-out images only, and the model is right on most of them.
    const calibration = await cbpeFromReference(referenceTarget(store, model, retrained));
    expect(calibration.referenceCount).toBe(mnist.heldOut + optdigits.heldOut);
    expect(calibration.referenceAccuracy).toBeGreaterThan(0.85);
  });

  async function verdict(source: string): Promise<DriftReport> {
    const check = new DriftCheck({ store, modelName: model, version: retrained, source, size: 300, seed: 3 });
    const result = await run(check, { logger });
    if (!result.ok) throw new Error(formatSummary(result));
    return check.output().file(REPORT_JSON).readJson<DriftReport>();
  }

  it('does not call plain MNIST traffic drift, and calls optdigits traffic drift', async () => {
    const mnist = await verdict('mnist-test');
    expect(mnist.tests.filter((t) => t.drift && t.decisive !== false).map((t) => t.name)).toEqual([]);
    expect(mnist.drift).toBe(false);
    const optdigits = await verdict('optdigits:heldout');
    expect(optdigits.drift).toBe(true);
  }, 300_000);
});
