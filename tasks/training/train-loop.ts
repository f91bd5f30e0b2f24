/**
 * Trains the MNIST classifier: seeded shuffles, mini-batch Adam with a
 * warm-up + cosine learning-rate schedule, gradients computed in worker
 * threads (data parallel) or in this thread, validation after each epoch.
 */
import * as os from 'node:os';

import type * as tfjs from '@tensorflow/tfjs';

import { FlatAdam, warmupCosineLearningRate } from './flat-adam';
import { type GradientEngine, LocalGradientEngine, type StepTimings, type TrainingData } from './gradient-engine';
import { WorkerGradientEngine } from './gradient-worker-pool';
import { buildModel, DEFAULT_MODEL, type ModelHyperParameters, PIXELS } from '../mnist/model';
import { ModelReplica } from './model-replica';
import { scorePredictions } from './evaluate';
import { mulberry32, shuffledIndices } from '../data/seeded-random';
import type { BackendName, TensorFlow } from '../tf/tf-backend';

/** Defaults of the training hyper-parameters (what flows/train.ts should use). */
export const DEFAULT_TRAINING = {
  epochs: 5,
  batchSize: 128,
  learningRate: 0.002,
  warmupSteps: 100,
  finalLearningRateFraction: 0.02,
  seed: 42,
  /** Examples held out of the 60,000 training images for validation. */
  validationCount: 5000,
} as const;

export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training accuracy over the epoch (each batch scored before its update). */
  accuracy: number;
  /** Accuracy on the validation set after the epoch (NaN without one). */
  valAccuracy: number;
  /** Training examples per second of this epoch's training (validation excluded). */
  samplesPerSecond: number;
  /** Wall time of the epoch, validation included. */
  wallSeconds: number;
  /** Learning rate of the epoch's last step. */
  learningRate: number;
  /** Mean per-batch milliseconds: slowest worker's phases, optimizer, and the rest. */
  batchMs: StepTimings & { optimizerMs: number; totalMs: number };
}

export interface TrainClassifierOptions {
  tf: TensorFlow;
  /** Training images, count * 784 pixels in [0, 1]. */
  xTrain: Float32Array;
  yTrain: Uint8Array;
  xVal?: Float32Array;
  yVal?: Uint8Array;
  epochs?: number;
  batchSize?: number;
  /** Peak learning rate of the schedule. */
  learningRate?: number;
  warmupSteps?: number;
  finalLearningRateFraction?: number;
  seed?: number;
  /** Architecture; the seed of the initialisers defaults to `seed`. */
  model?: Partial<ModelHyperParameters>;
  /**
   * Worker threads computing gradients. 'auto' (default): none with the
   * native backend (it is multi-threaded itself), otherwise one per CPU up
   * to 4. 0 computes in this thread.
   */
  workers?: number | 'auto';
  signal?: AbortSignal;
  onEpoch?: (metrics: EpochMetrics) => void;
}

export interface TrainClassifierResult {
  /** The trained model, on `tf`; save it with `model.save(ioHandler)`. */
  model: tfjs.LayersModel;
  history: EpochMetrics[];
  hyperParameters: ModelHyperParameters;
  workers: number;
  /** Wall time of the whole call, worker start-up included. */
  wallSeconds: number;
}

function activeBackend(tf: TensorFlow): BackendName {
  const name = tf.getBackend();
  if (name === 'tensorflow' || name === 'wasm' || name === 'cpu') return name;
  throw new Error(`Expected the TensorFlow.js backend to be tensorflow, wasm or cpu (use loadTensorFlow()), got '${name}'`);
}

function resolveWorkers(workers: number | 'auto', backend: BackendName): number {
  if (workers !== 'auto') {
    if (!Number.isInteger(workers) || workers < 0) {
      throw new Error(`Expected \`workers\` to be 'auto' or an integer >= 0, got ${workers}`);
    }
    return workers;
  }
  if (backend === 'tensorflow') return 0;
  const cpus = os.availableParallelism();
  return cpus < 2 ? 0 : Math.min(cpus, 4);
}

function checkData(xTrain: Float32Array, yTrain: Uint8Array, xVal: Float32Array, yVal: Uint8Array): void {
  if (yTrain.length === 0) throw new Error('Expected at least one training example, got 0');
  if (xTrain.length !== yTrain.length * PIXELS) {
    throw new Error(`Expected xTrain to hold ${yTrain.length} * 784 pixels for ${yTrain.length} labels, got ${xTrain.length}`);
  }
  if (xVal.length !== yVal.length * PIXELS) {
    throw new Error(`Expected xVal to hold ${yVal.length} * 784 pixels for ${yVal.length} labels, got ${xVal.length}`);
  }
}

/** Trains a new model of the default architecture (or `model`) and returns it with per-epoch metrics. */
export async function trainClassifier(options: TrainClassifierOptions): Promise<TrainClassifierResult> {
  const started = performance.now();
  const { tf, xTrain, yTrain, signal, onEpoch } = options;
  const xVal = options.xVal ?? new Float32Array(0);
  const yVal = options.yVal ?? new Uint8Array(0);
  checkData(xTrain, yTrain, xVal, yVal);
  const epochs = options.epochs ?? DEFAULT_TRAINING.epochs;
  const batchSize = options.batchSize ?? DEFAULT_TRAINING.batchSize;
  const peakRate = options.learningRate ?? DEFAULT_TRAINING.learningRate;
  const warmupSteps = options.warmupSteps ?? DEFAULT_TRAINING.warmupSteps;
  const finalFraction = options.finalLearningRateFraction ?? DEFAULT_TRAINING.finalLearningRateFraction;
  const seed = options.seed ?? DEFAULT_TRAINING.seed;
  const hyperParameters: ModelHyperParameters = { ...DEFAULT_MODEL, seed, ...options.model };
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`Expected \`epochs\` to be a positive integer, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`Expected \`batchSize\` to be a positive integer, got ${batchSize}`);
  }
  signal?.throwIfAborted();

  const backend = activeBackend(tf);
  const workers = resolveWorkers(options.workers ?? 'auto', backend);
  const model = buildModel(tf, hyperParameters);
  const data: TrainingData = { trainImages: xTrain, trainLabels: yTrain, valImages: xVal, valLabels: yVal };
  let engine: GradientEngine;
  if (workers === 0) {
    engine = new LocalGradientEngine(tf, model, data);
  } else {
    const replica = new ModelReplica(tf, model);
    const initialParams = new Float32Array(replica.size);
    replica.readParams(initialParams);
    engine = await WorkerGradientEngine.start({ workers, model: hyperParameters, backend, data, initialParams });
  }

  const history: EpochMetrics[] = [];
  try {
    const random = mulberry32(seed);
    const adam = new FlatAdam(engine.params.length);
    const stepsPerEpoch = Math.ceil(yTrain.length / batchSize);
    const totalSteps = epochs * stepsPerEpoch;
    let step = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const epochStart = performance.now();
      const order = shuffledIndices(yTrain.length, random);
      const sums = { loss: 0, correct: 0, gatherMs: 0, uploadMs: 0, computeMs: 0, optimizerMs: 0 };
      let learningRate = peakRate;
      for (let b = 0; b < stepsPerEpoch; b++, step++) {
        signal?.throwIfAborted();
        const batch = order.subarray(b * batchSize, Math.min((b + 1) * batchSize, order.length));
        const result = await engine.computeGradients(batch);
        const optimizerStart = performance.now();
        learningRate = warmupCosineLearningRate(step, totalSteps, peakRate, warmupSteps, finalFraction);
        adam.step(engine.params, engine.gradient, learningRate);
        sums.optimizerMs += performance.now() - optimizerStart;
        sums.loss += result.loss * batch.length;
        sums.correct += result.correct;
        sums.gatherMs += result.timings.gatherMs;
        sums.uploadMs += result.timings.uploadMs;
        sums.computeMs += result.timings.computeMs;
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      signal?.throwIfAborted();
      const valAccuracy = yVal.length > 0 ? scorePredictions(await engine.predictValidation(), yVal).accuracy : Number.NaN;
      const metrics: EpochMetrics = {
        epoch,
        loss: sums.loss / yTrain.length,
        accuracy: sums.correct / yTrain.length,
        valAccuracy,
        samplesPerSecond: yTrain.length / trainSeconds,
        wallSeconds: (performance.now() - epochStart) / 1000,
        learningRate,
        batchMs: {
          gatherMs: sums.gatherMs / stepsPerEpoch,
          uploadMs: sums.uploadMs / stepsPerEpoch,
          computeMs: sums.computeMs / stepsPerEpoch,
          optimizerMs: sums.optimizerMs / stepsPerEpoch,
          totalMs: (trainSeconds * 1000) / stepsPerEpoch,
        },
      };
      history.push(metrics);
      onEpoch?.(metrics);
    }
  } finally {
    await engine.close();
  }
  new ModelReplica(tf, model).writeParams(engine.params);
  return { model, history, hyperParameters, workers, wallSeconds: (performance.now() - started) / 1000 };
}
