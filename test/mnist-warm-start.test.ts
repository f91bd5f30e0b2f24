/**
 * The routine training's warm start (--warm-start with --split-by increment):
 * the model of increment n continues increment n-1's on the images n adds,
 * real MNIST, real TensorFlow.js training, tiny increments.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParameterError, run } from '../src';
import { createLogger } from '../src/public/runtime';
import { readDataset } from '../tasks/data/dataset-files';
import { type IncrementDetails, PreprocessIncrement } from '../tasks/mnist/preprocess-task';
import { TRAINING_JSON, TrainModel, type TrainingRecord } from '../tasks/mnist/train-task';

const quiet = createLogger({ level: 'silent' });
let store: string;
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-warm-start-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

const params = (increment: number, replay = 1) => ({ store, increment, incrementSize: 600, validationFraction: 0.1, epochs: 1, splitBy: 'increment' as const, warmStart: true, replay });
const recordOf = (increment: number) => new TrainModel(params(increment)).output().file(TRAINING_JSON).readJson<TrainingRecord>();

describe('a warm-started training', () => {
  it("trains the increment before first when it is missing, then on the images its increment adds and as many earlier ones, naming the model it continued", async () => {
    const summary = await run(new TrainModel(params(2)), { logger: quiet });
    expect(summary.ok).toBe(true);
    expect(summary.tasks.filter((t) => t.status === 'ran').map((t) => t.id)).toEqual(expect.arrayContaining([new TrainModel(params(1)).id, new TrainModel(params(2)).id]));
    const [first, second] = [await recordOf(1), await recordOf(2)];
    const details = (await readDataset<IncrementDetails>(new PreprocessIncrement({ store, increment: 2, incrementSize: 600, validationFraction: 0.1, splitBy: 'increment' }).output(), [])).manifest.details;
    expect(first.startedFrom).toBeUndefined();
    expect(first.trainedOn).toBe(540);
    expect(first.replayed).toBeUndefined();
    expect(details.split).toMatchObject({ by: 'increment', train: 1080, validation: 120, newTrain: 540 });
    expect(second).toMatchObject({ trainedOn: 1080, replayed: 540 });
    expect(second.startedFrom).toEqual({ taskId: first.taskId, uri: new TrainModel(params(1)).output().uri, modelSha256: first.modelSha256 });
    expect(second.modelSha256).not.toBe(first.modelSha256);
    expect(second.final.valAccuracy).toBeGreaterThan(first.final.valAccuracy!);
  }, 600_000);

  it('replays the share of earlier images --replay asks for: half of the new ones, or none', async () => {
    for (const [replay, replayed] of [[0.5, 270], [0, 0]]) {
      const summary = await run(new TrainModel(params(2, replay)), { logger: quiet });
      expect(summary.ok).toBe(true);
      expect(await new TrainModel(params(2, replay)).output().file(TRAINING_JSON).readJson<TrainingRecord>()).toMatchObject({ trainedOn: 540 + replayed, replayed });
    }
  }, 600_000);

  it('is complete on a second run: nothing trains again', async () => {
    const summary = await run(new TrainModel(params(2)), { logger: quiet });
    expect(summary.ok).toBe(true);
    expect(summary.tasks.filter((t) => t.status === 'ran')).toEqual([]);
  }, 120_000);

  it('needs --split-by increment: with one shuffle of all images, validation would hold images an earlier model learned', () => {
    expect(() => new TrainModel({ ...params(2), splitBy: 'all' })).toThrow(ParameterError);
    expect(() => new TrainModel({ ...params(2), splitBy: 'all' })).toThrow(/--split-by increment/);
  });
});
