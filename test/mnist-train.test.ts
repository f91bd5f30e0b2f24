/**
 * Training on a slice of MNIST: data-parallel gradients equal single-thread
 * gradients, runs are reproducible, and a short run learns. Runs on the
 * wasm backend (cpu is far too slow for a CNN).
 */
import type * as tfjs from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { evaluate } from '../tasks/training/evaluate';
import { LocalGradientEngine } from '../tasks/training/gradient-engine';
import { WorkerGradientEngine } from '../tasks/training/gradient-worker-pool';
import { type MnistSplit, readMnistSplit, takeExamples } from '../tasks/mnist/mnist-data';
import { buildModel, DEFAULT_MODEL } from '../tasks/mnist/model';
import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';
import { trainClassifier } from '../tasks/training/train-loop';

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

describe('data-parallel gradients', () => {
  it('two workers give the mean gradient of the whole batch, as one thread does', async () => {
    const data = takeExamples(train, 0, 300);
    const trainingData = { trainImages: data.images, trainLabels: data.labels, valImages: new Float32Array(0), valLabels: new Uint8Array(0) };
    const model = buildModel(tf, DEFAULT_MODEL);
    const local = new LocalGradientEngine(tf, model, trainingData);
    // An odd batch makes the shards unequal (51 + 50), so the weighting matters.
    const batch = Int32Array.from({ length: 101 }, (_, i) => (i * 7) % 300);
    const expected = await local.computeGradients(batch);
    const pool = await WorkerGradientEngine.start({ workers: 2, model: DEFAULT_MODEL, backend: 'wasm', data: trainingData, initialParams: local.params });
    try {
      const actual = await pool.computeGradients(batch);
      expect(actual.correct).toBe(expected.correct);
      expect(actual.loss).toBeCloseTo(expected.loss, 5);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < local.gradient.length; i++) {
        diff = Math.max(diff, Math.abs(pool.gradient[i] - local.gradient[i]));
        scale = Math.max(scale, Math.abs(local.gradient[i]));
      }
      expect(scale).toBeGreaterThan(0);
      expect(diff / scale).toBeLessThan(1e-5);
    } finally {
      await pool.close();
      model.dispose();
    }
  });
});

describe('trainClassifier', () => {
  it('is reproducible for a given seed', async () => {
    const data = takeExamples(train, 0, 640);
    const run = () => trainClassifier({ tf, xTrain: data.images, yTrain: data.labels, epochs: 1, batchSize: 64, seed: 7, workers: 0 });
    const first = await run();
    const second = await run();
    expect(second.history[0].loss).toBe(first.history[0].loss);
    expect(weightsOf(second.model)).toEqual(weightsOf(first.model));
    const other = await trainClassifier({ tf, xTrain: data.images, yTrain: data.labels, epochs: 1, batchSize: 64, seed: 8, workers: 0 });
    expect(other.history[0].loss).not.toBe(first.history[0].loss);
    tf.dispose([first.model, second.model, other.model].flatMap((m) => m.getWeights()));
  });

  it('learns MNIST from 8,000 images in one epoch on two workers (test accuracy > 90%)', async () => {
    const data = takeExamples(train, 0, 8000);
    const val = takeExamples(train, 8000, 500);
    const epochs: number[] = [];
    const result = await trainClassifier({
      tf,
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
    });
    expect(result.workers).toBe(2);
    expect(epochs).toHaveLength(1);
    expect(epochs[0]).toBeGreaterThan(0.9);
    const subset = takeExamples(test, 0, 2000);
    const evaluation = evaluate({ tf, model: result.model, images: subset.images, labels: subset.labels });
    expect(evaluation.accuracy).toBeGreaterThan(0.9);
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(2000);
    expect(evaluation.perClassAccuracy.every((a) => a > 0.7)).toBe(true);
    // About 10 s on an idle 2-core machine (250 steps, ~94%); the margin is for a busy one.
  }, 120_000);

  it('stops between batches when aborted', async () => {
    const data = takeExamples(train, 0, 2000);
    const controller = new AbortController();
    let epochsSeen = 0;
    const run = trainClassifier({
      tf,
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
