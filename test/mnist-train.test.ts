/**
 * Training on a slice of MNIST: data-parallel steps equal single-thread
 * steps, an abort stops the workers, runs are reproducible, any classifier
 * the builder gives trains, and a short run learns. Runs on the
 * wasm backend (cpu is far too slow for a CNN).
 */
import type * as tfjs from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { evaluate, predictClasses, predictClassesInTurns } from '../tasks/training/evaluate';
import { LocalGradientEngine } from '../tasks/training/gradient-engine';
import { WorkerGradientEngine } from '../tasks/training/gradient-worker-pool';
import { type MnistSplit, readMnistSplit, takeExamples } from '../tasks/mnist/mnist-data';
import { buildModel, DEFAULT_MODEL } from '../tasks/mnist/model';
import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';
import { type StepMetrics, trainClassifier } from '../tasks/training/train-loop';
import { relativeError } from './helpers/relative-error';

let tf: TensorFlow;
let train: MnistSplit;
let test: MnistSplit;

beforeAll(async () => {
  ({ tf } = await loadTensorFlow({ backend: 'wasm' }));
  train = await readMnistSplit('train');
  test = await readMnistSplit('t10k');
});

function weightsOf(model: tfjs.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

const mnistModel = (t: TensorFlow) => buildModel(t, DEFAULT_MODEL);

/** Step metrics come in order, at least `every` steps apart, within the run, and show learning. */
function expectStepMetrics(steps: StepMetrics[], every: number, totalSteps: number): void {
  expect(steps.length).toBeGreaterThanOrEqual(2);
  for (const [i, m] of steps.entries()) {
    if (i > 0) expect(m.step - steps[i - 1].step).toBeGreaterThanOrEqual(every);
    expect(m.step).toBeLessThanOrEqual(totalSteps);
    expect(m.accuracy).toBeGreaterThanOrEqual(0);
    expect(m.accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(m.loss)).toBe(true);
  }
  expect(steps.at(-1)!.loss).toBeLessThan(steps[0].loss);
}

describe('data-parallel steps', () => {
  it('two workers use the mean gradient of the whole batch and update the parameters as one thread does', async () => {
    const data = takeExamples(train, 0, 300);
    const trainingData = { trainImages: data.images, trainLabels: data.labels, valImages: new Float32Array(0), valLabels: new Uint8Array(0) };
    const model = buildModel(tf, DEFAULT_MODEL);
    const pool = await WorkerGradientEngine.start({ workers: 2, tf, model, backend: 'wasm', data: trainingData });
    const local = new LocalGradientEngine(tf, model, trainingData);
    try {
      expect(pool.params).toEqual(local.params);
      // An odd batch makes the shards unequal (51 + 50), so the weighting matters.
      const order = Int32Array.from({ length: 101 }, (_, i) => (i * 7) % 300);
      const epoch = { order, batchSize: 101, learningRates: Float64Array.of(0.001), firstStep: 0 };
      const expected = await local.runEpoch(epoch);
      const actual = await pool.runEpoch(epoch);
      expect(actual).toMatchObject({ steps: 1, samples: 101, correct: expected.correct });
      expect(actual.lossSum).toBeCloseTo(expected.lossSum, 3);
      expect(relativeError(pool.lastGradient(), local.lastGradient())).toBeLessThan(1e-5);
      expect(relativeError(pool.params, local.params)).toBeLessThan(1e-5);
    } finally {
      await pool.close();
      model.dispose();
    }
  });

  it('stop after the current step when aborted during an epoch', async () => {
    const data = takeExamples(train, 0, 6400);
    const trainingData = { trainImages: data.images, trainLabels: data.labels, valImages: new Float32Array(0), valLabels: new Uint8Array(0) };
    const model = buildModel(tf, DEFAULT_MODEL);
    const pool = await WorkerGradientEngine.start({ workers: 2, tf, model, backend: 'wasm', data: trainingData });
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('stop requested')), 200);
      const order = Int32Array.from({ length: 6400 }, (_, i) => i);
      const epoch = pool.runEpoch({ order, batchSize: 32, learningRates: new Float64Array(200).fill(0.001), firstStep: 0 }, controller.signal);
      await expect(epoch).rejects.toThrow('stop requested');
      // The workers are free again: another epoch runs to its end.
      const next = await pool.runEpoch({ order: order.subarray(0, 64), batchSize: 32, learningRates: Float64Array.of(0.001, 0.001), firstStep: 200 });
      expect(next.steps).toBe(2);
    } finally {
      await pool.close();
      model.dispose();
    }
  });
});

describe('trainClassifier', () => {
  it('is reproducible for a given seed, in this thread and on two workers', async () => {
    const data = takeExamples(train, 0, 640);
    for (const workers of [0, 2]) {
      const run = (seed: number) =>
        trainClassifier({ tf, buildModel: mnistModel, xTrain: data.images, yTrain: data.labels, epochs: 1, batchSize: 64, seed, workers });
      const first = await run(7);
      const second = await run(7);
      expect(second.history[0].loss).toBe(first.history[0].loss);
      expect(weightsOf(second.model)).toEqual(weightsOf(first.model));
      const other = await run(8);
      expect(other.history[0].loss).not.toBe(first.history[0].loss);
      tf.dispose([first.model, second.model, other.model].flatMap((m) => m.getWeights()));
    }
  }, 120_000);

  it('shifts images reproducibly with augmentShift, whatever the number of workers', async () => {
    const data = takeExamples(train, 0, 640);
    const run = (augmentShift: number, workers: number) =>
      trainClassifier({ tf, buildModel: mnistModel, xTrain: data.images, yTrain: data.labels, epochs: 1, batchSize: 64, augmentShift, workers });
    const [plain, shifted, shiftedAgain, shiftedInThread] = [await run(0, 2), await run(1, 2), await run(1, 2), await run(1, 0)];
    expect(shifted.history[0].loss).not.toBe(plain.history[0].loss);
    expect(weightsOf(shiftedAgain.model)).toEqual(weightsOf(shifted.model));
    // One thread sums the gradient in another order: the same training up to rounding.
    expect(shiftedInThread.history[0].loss).toBeCloseTo(shifted.history[0].loss, 4);
    tf.dispose([plain, shifted, shiftedAgain, shiftedInThread].flatMap((r) => r.model.getWeights()));
  }, 120_000);

  it('trains any classifier its builder gives (a dense network on flat samples)', async () => {
    const data = takeExamples(train, 0, 4000);
    const val = takeExamples(train, 4000, 500);
    const dense = (t: TensorFlow) =>
      t.sequential({
        layers: [
          t.layers.dense({ inputShape: [784], units: 64, activation: 'relu', kernelInitializer: t.initializers.glorotUniform({ seed: 1 }) }),
          t.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: t.initializers.glorotUniform({ seed: 2 }) }),
        ],
      });
    const result = await trainClassifier({ tf, buildModel: dense, xTrain: data.images, yTrain: data.labels, xVal: val.images, yVal: val.labels, epochs: 2, batchSize: 32, workers: 2, warmupSteps: 10 });
    expect(result.model.inputs[0].shape).toEqual([null, 784]);
    expect(result.history[1].valAccuracy).toBeGreaterThan(0.85);
    await expect(trainClassifier({ tf, buildModel: dense, xTrain: data.images.subarray(0, 100), yTrain: data.labels })).rejects.toThrow(
      'Expected xTrain to hold 4000 * 784 numbers for 4000 labels, got 100',
    );
    await expect(trainClassifier({ tf, buildModel: dense, xTrain: data.images, yTrain: data.labels, augmentShift: 1 })).rejects.toThrow(
      'Expected image samples [height, width(, channels)] to augment, got shape [784]',
    );
  }, 120_000);

  it('learns MNIST from 8,000 images in one epoch on two workers (test accuracy > 90%)', async () => {
    const data = takeExamples(train, 0, 8000);
    const val = takeExamples(train, 8000, 500);
    const epochs: number[] = [];
    const steps: StepMetrics[] = [];
    const result = await trainClassifier({
      tf,
      buildModel: mnistModel,
      xTrain: data.images,
      yTrain: data.labels,
      xVal: val.images,
      yVal: val.labels,
      epochs: 1,
      batchSize: 32,
      learningRate: 0.003,
      workers: 2,
      warmupSteps: 10,
      onEpoch: (m) => epochs.push(m.valAccuracy),
      onSteps: (m) => steps.push(m),
      stepMetricsEvery: 25,
    });
    expect(result.workers).toBe(2);
    expect(epochs).toHaveLength(1);
    expect(epochs[0]).toBeGreaterThan(0.9);
    expectStepMetrics(steps, 25, 250);
    const subset = takeExamples(test, 0, 2000);
    const evaluation = await evaluate({ tf, model: result.model, images: subset.images, labels: subset.labels });
    expect(evaluation.accuracy).toBeGreaterThan(0.9);
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(2000);
    expect(evaluation.perClassAccuracy.every((a) => a > 0.7)).toBe(true);
    // About 10 s on an idle 2-core machine (250 steps, ~94%); the margin is for a busy one.
  }, 120_000);

  it('reports loss and accuracy within an epoch every N steps in this thread too', async () => {
    const data = takeExamples(train, 0, 3200);
    const steps: StepMetrics[] = [];
    await trainClassifier({ tf, buildModel: mnistModel, xTrain: data.images, yTrain: data.labels, epochs: 2, batchSize: 32, workers: 0, warmupSteps: 10, onSteps: (m) => steps.push(m), stepMetricsEvery: 10 });
    expectStepMetrics(steps, 10, 200);
    expect(new Set(steps.map((m) => m.epoch))).toEqual(new Set([1, 2]));
  }, 120_000);

  it('stops between batches when aborted', async () => {
    const data = takeExamples(train, 0, 2000);
    const controller = new AbortController();
    let epochsSeen = 0;
    const run = trainClassifier({
      tf,
      buildModel: mnistModel,
      xTrain: data.images,
      yTrain: data.labels,
      epochs: 50,
      workers: 0,
      signal: controller.signal,
      onEpoch: () => {
        epochsSeen++;
        controller.abort(new Error('stop requested'));
      },
    });
    await expect(run).rejects.toThrow('stop requested');
    expect(epochsSeen).toBe(1);
  });
});

describe('predicting classes', () => {
  it('in turns gives the event loop a turn between batches and predicts what the one-go version does', async () => {
    const model = mnistModel(tf);
    try {
      const data = takeExamples(test, 0, 1200);
      let turns = 0;
      const ticking = setInterval(() => turns++, 0);
      let during = 0;
      const inTurns = predictClassesInTurns(tf, model, data.images, 1200, 400).then((p) => ((during = turns), p));
      const predicted = await inTurns;
      clearInterval(ticking);
      // Three batches, a turn after each: a timer ran while the batches were predicted.
      expect(during).toBeGreaterThan(0);
      expect(Buffer.from(predicted).equals(Buffer.from(predictClasses(tf, model, data.images, 1200, 400)))).toBe(true);
    } finally {
      model.dispose();
    }
  });
});
