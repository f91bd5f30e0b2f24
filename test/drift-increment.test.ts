/**
 * The data a drift retraining learns from (a real MNIST increment plus
 * labelled batches in a folder store): labelled samples repeated until they
 * are the share asked for of the training part (or a fixed number of times),
 * and each image's source recorded for the version's drift reference.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src';
import { createLogger, formatSummary } from '../src/public/runtime';
import { readDataset, uint8 } from '../tasks/data/dataset-files';
import { TRAIN_SOURCES, VALIDATION_SOURCES } from '../tasks/data/data-sources';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import { readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { sampleImages } from '../tasks/drift/sources/image-batch';
import { DriftIncrement, type DriftIncrementDetails, labelledRepeats } from '../tasks/mnist/drift-increment-task';

const logger = createLogger({ level: 'warn' });
let store: string;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-drift-increment-'));
  const { labelled } = await readOptdigitsSplit();
  const [a, b] = [sampleImages(labelled, 60, 1), sampleImages(labelled, 40, 2)];
  await writeLabelledBatch(store, 'day-1', { pixels: a.pixels, labels: a.labels!, source: 'late labels, day 1' });
  await writeLabelledBatch(store, 'day-2', { pixels: b.pixels, labels: b.labels!, source: 'late labels, day 2' });
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

async function increment(extra: { oversample?: number; labelledShare?: number }) {
  const task = new DriftIncrement({ store, increment: 1, incrementSize: 2000, validationFraction: 0.1, labelBatches: 'day-1,day-2', ...extra });
  const result = await run(task, { logger });
  if (!result.ok) throw new Error(formatSummary(result));
  return readDataset<DriftIncrementDetails>(task.output(), [TRAIN_SOURCES, VALIDATION_SOURCES]);
}

describe('a drift increment', () => {
  it('repeats labelled samples as often as makes them the share asked for', () => {
    expect(labelledRepeats(0, 0.5, 11_400, 475)).toBe(24);
    expect(labelledRepeats(0, 0.25, 11_400, 475)).toBe(8);
    expect(labelledRepeats(10, 0.5, 11_400, 475)).toBe(10);
    expect(labelledRepeats(0, 0.5, 11_400, 0)).toBe(1);
    expect(labelledRepeats(0, 0.9, 60_000, 1)).toBe(1000);
  });

  it('makes the labelled samples half the training part by default, and records every image’s source', async () => {
    const data = await increment({});
    const { details } = data.manifest;
    expect(details.sources).toEqual([
      { name: 'mnist-train[0:2000]', images: 2000 },
      { name: 'late labels, day 1', images: 60 },
      { name: 'late labels, day 2', images: 40 },
    ]);
    const train = uint8(data, TRAIN_SOURCES);
    const labelled = train.filter((s) => s > 0).length;
    expect(train.length).toBe(details.split.train);
    expect(labelled / train.length).toBeGreaterThan(0.45);
    expect(labelled / train.length).toBeLessThan(0.55);
    expect(labelled % details.oversample).toBe(0);
    const validation = uint8(data, VALIDATION_SOURCES);
    expect(validation.length).toBe(details.split.validation);
    // The validation part is drawn before repeating: each source about its share of the 2,100 images.
    expect(validation.filter((s) => s === 0).length).toBeGreaterThan(validation.length * 0.9);
  });

  it('repeats them the fixed number of times given', async () => {
    const data = await increment({ oversample: 3 });
    const train = uint8(data, TRAIN_SOURCES);
    expect(data.manifest.details.oversample).toBe(3);
    expect(train.filter((s) => s > 0).length).toBe(3 * (100 - uint8(data, VALIDATION_SOURCES).filter((s) => s > 0).length));
  });
});
