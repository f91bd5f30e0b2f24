/**
 * Trains a classifier: seeded shuffles, mini-batch Adam with a warm-up +
 * cosine learning-rate schedule, steps run in worker threads (data
 * parallel) or in this thread, validation after each epoch. The model comes
 * from the caller's builder (tasks/mnist/model.ts for the MNIST flows); any
 * layers model with one input and a softmax [batch, classes] output works.
 */
import * as os from 'node:os';

import type * as tfjs from '@tensorflow/tfjs';

import { mix32 } from './augment';
import { scorePredictions } from './evaluate';
import { stepsPerEpoch } from './epoch-runner';
import { type EpochProgress, type GradientEngine, LocalGradientEngine, type StepTimings, type TrainingData } from './gradient-engine';
import { WorkerGradientEngine } from './gradient-worker-pool';
import { warmupCosineLearningRate } from './learning-rate';
import { modelGeometry } from './model-geometry';
import { ModelReplica } from './model-replica';
import { mulberry32, shuffledIndices } from '../data/seeded-random';
import type { BackendName, TensorFlow } from '../tf/tf-backend';
import { TrainingInputError } from './errors';

/** Defaults of the training hyper-parameters; the MNIST flows' (MNIST_TRAINING in tasks/mnist/params.ts) build on them. */
export const DEFAULT_TRAINING = {
  epochs: 5,
  batchSize: 128,
  learningRate: 0.002,
  /** At most this many warm-up steps, and at most WARMUP_SHARE of the run's steps (see warmupStepsFor). */
  warmupSteps: 100,
  finalLearningRateFraction: 0.02,
  seed: 42,
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
  /** Mean per-batch milliseconds: the slowest thread's phases, and the whole step. */
  batchMs: StepTimings & { totalMs: number };
}

/** Training metrics over the steps since the previous report, while an epoch runs. */
export interface StepMetrics {
  epoch: number;
  /** Steps run since training began (the report covers steps up to this one). */
  step: number;
  /** Mean training loss over the samples of the covered steps. */
  loss: number;
  /** Training accuracy over those samples (each batch scored before its update). */
  accuracy: number;
}

/** The default warm-up's largest share of a run. */
export const WARMUP_SHARE = 0.1;

/**
 * The default warm-up: 100 steps, but no more than a tenth of the run. A short
 * run (one epoch of 12,000 images is 94 steps) otherwise spends all of it
 * warming up and never trains at the peak rate; measured, one such epoch on
 * MNIST plus 60 labelled optdigits: 87.9% on optdigits with the 100-step
 * warm-up, 91.5% with 10 steps (MNIST 94.3% and 94.9%).
 */
export function warmupStepsFor(totalSteps: number): number {
  return Math.min(DEFAULT_TRAINING.warmupSteps, Math.max(1, Math.ceil(totalSteps * WARMUP_SHARE)));
}

/** Builds the untrained model, its initial weights seeded (e.g. `(tf) => buildModel(tf, hp)`). */
export type ModelBuilder = (tf: TensorFlow) => tfjs.LayersModel;

export interface TrainClassifierOptions {
  tf: TensorFlow;
  /** The model to train: called once, on `tf`. */
  buildModel: ModelBuilder;
  /** Training samples, count * sample size numbers (the model's input shape without the batch axis). */
  xTrain: Float32Array;
  /** Class index of each training sample. */
  yTrain: Uint8Array;
  xVal?: Float32Array;
  yVal?: Uint8Array;
  epochs?: number;
  batchSize?: number;
  /** Peak learning rate of the schedule. */
  learningRate?: number;
  /** Default: warmupStepsFor(the run's steps). */
  warmupSteps?: number;
  finalLearningRateFraction?: number;
  /** Seed of the batch order (and of the augmentation's shifts). */
  seed?: number;
  /**
   * Translate each training image by up to this many pixels per axis, a new
   * random shift each time it is seen (samples must be [height, width,
   * channels]). Default 0: none.
   */
  augmentShift?: number;
  /**
   * Worker threads computing gradients. 'auto' (default): none with the
   * native backend (it is multi-threaded itself), otherwise one per CPU up
   * to 4. 0 computes in this thread.
   */
  workers?: number | 'auto';
  signal?: AbortSignal;
  /** Called after each epoch (and its validation), e.g. to log or track the metrics. */
  onEpoch?: (metrics: EpochMetrics) => void;
  /** Called while an epoch runs, about every `stepMetricsEvery` steps (MLflow's log_every_n_steps). */
  onSteps?: (metrics: StepMetrics) => void;
  /** Default 50. */
  stepMetricsEvery?: number;
}

export interface TrainClassifierResult {
  /** The trained model, on `tf`; save it with `model.save(ioHandler)`. */
  model: tfjs.LayersModel;
  history: EpochMetrics[];
  workers: number;
  /** Wall time of the whole call, worker start-up included. */
  wallSeconds: number;
}

function activeBackend(tf: TensorFlow): BackendName {
  const name = tf.getBackend();
  if (name === 'tensorflow' || name === 'wasm' || name === 'cpu') return name;
  throw new TrainingInputError(`Expected the TensorFlow.js backend to be tensorflow, wasm or cpu (use loadTensorFlow()), got '${name}'`);
}

function resolveWorkers(workers: number | 'auto', backend: BackendName): number {
  if (workers !== 'auto') {
    if (!Number.isInteger(workers) || workers < 0) {
      throw new TrainingInputError(`Expected \`workers\` to be 'auto' or an integer >= 0, got ${workers}`);
    }
    return workers;
  }
  if (backend === 'tensorflow') return 0;
  const cpus = os.availableParallelism();
  return cpus < 2 ? 0 : Math.min(cpus, 4);
}

function checkData(sampleSize: number, xTrain: Float32Array, yTrain: Uint8Array, xVal: Float32Array, yVal: Uint8Array): void {
  if (yTrain.length === 0) throw new TrainingInputError('Expected at least one training example, got 0');
  if (xTrain.length !== yTrain.length * sampleSize) {
    throw new TrainingInputError(`Expected xTrain to hold ${yTrain.length} * ${sampleSize} numbers for ${yTrain.length} labels, got ${xTrain.length}`);
  }
  if (xVal.length !== yVal.length * sampleSize) {
    throw new TrainingInputError(`Expected xVal to hold ${yVal.length} * ${sampleSize} numbers for ${yVal.length} labels, got ${xVal.length}`);
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new TrainingInputError(`Expected \`${name}\` to be a positive integer, got ${value}`);
  return value;
}

async function startEngine(tf: TensorFlow, model: tfjs.LayersModel, data: TrainingData, workers: number): Promise<GradientEngine> {
  if (workers === 0) return new LocalGradientEngine(tf, model, data);
  return WorkerGradientEngine.start({ workers, tf, model, backend: activeBackend(tf), data });
}

/** Turns the engine's running totals into metrics over each `every` steps. */
function stepReporter(onSteps: (m: StepMetrics) => void, every: number, epoch: number, firstStep: number): EpochProgress {
  let last = { steps: 0, samples: 0, lossSum: 0, correct: 0 };
  return {
    everyMs: 100,
    report(sofar) {
      if (sofar.steps - last.steps < every) return;
      const samples = sofar.samples - last.samples;
      onSteps({ epoch, step: firstStep + sofar.steps, loss: (sofar.lossSum - last.lossSum) / samples, accuracy: (sofar.correct - last.correct) / samples });
      last = sofar;
    },
  };
}

/** Trains a new model from `buildModel` and returns it with per-epoch metrics. */
export async function trainClassifier(options: TrainClassifierOptions): Promise<TrainClassifierResult> {
  const started = performance.now();
  const { tf, xTrain, yTrain, signal, onEpoch } = options;
  const xVal = options.xVal ?? new Float32Array(0);
  const yVal = options.yVal ?? new Uint8Array(0);
  const epochs = positiveInteger('epochs', options.epochs ?? DEFAULT_TRAINING.epochs);
  const batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULT_TRAINING.batchSize);
  const peakRate = options.learningRate ?? DEFAULT_TRAINING.learningRate;
  const finalFraction = options.finalLearningRateFraction ?? DEFAULT_TRAINING.finalLearningRateFraction;
  const seed = options.seed ?? DEFAULT_TRAINING.seed;
  const stepMetricsEvery = positiveInteger('stepMetricsEvery', options.stepMetricsEvery ?? 50);
  const augmentShift = options.augmentShift ?? 0;
  if (!Number.isInteger(augmentShift) || augmentShift < 0) {
    throw new TrainingInputError(`Expected \`augmentShift\` to be an integer >= 0, got ${augmentShift}`);
  }
  signal?.throwIfAborted();

  const workers = resolveWorkers(options.workers ?? 'auto', activeBackend(tf));
  const model = options.buildModel(tf);
  const { sampleSize, sampleShape, classes } = modelGeometry(model);
  checkData(sampleSize, xTrain, yTrain, xVal, yVal);
  if (augmentShift > 0 && sampleShape.length !== 3 && sampleShape.length !== 2) {
    throw new TrainingInputError(`Expected image samples [height, width(, channels)] to augment, got shape [${sampleShape.join(', ')}]`);
  }
  const augmentation = augmentShift > 0 ? { maxShift: augmentShift, seed: mix32(seed, 0x5eed) } : undefined;
  const engine = await startEngine(tf, model, { trainImages: xTrain, trainLabels: yTrain, valImages: xVal, valLabels: yVal }, workers);

  const history: EpochMetrics[] = [];
  try {
    const random = mulberry32(seed);
    const steps = stepsPerEpoch(yTrain.length, batchSize);
    const totalSteps = epochs * steps;
    const warmupSteps = options.warmupSteps ?? warmupStepsFor(totalSteps);
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const epochStart = performance.now();
      const firstStep = (epoch - 1) * steps;
      const learningRates = Float64Array.from({ length: steps }, (_, s) =>
        warmupCosineLearningRate(firstStep + s, totalSteps, peakRate, warmupSteps, finalFraction),
      );
      const order = shuffledIndices(yTrain.length, random);
      const firstPosition = (epoch - 1) * yTrain.length;
      const progress = options.onSteps && stepReporter(options.onSteps, stepMetricsEvery, epoch, firstStep);
      const summary = await engine.runEpoch({ order, batchSize, learningRates, firstStep, augmentation, firstPosition }, signal, progress);
      const trainSeconds = (performance.now() - epochStart) / 1000;
      signal?.throwIfAborted();
      const valAccuracy = yVal.length > 0 ? scorePredictions(await engine.predictValidation(), yVal, classes).accuracy : Number.NaN;
      const metrics: EpochMetrics = {
        epoch,
        loss: summary.lossSum / yTrain.length,
        accuracy: summary.correct / yTrain.length,
        valAccuracy,
        samplesPerSecond: yTrain.length / trainSeconds,
        wallSeconds: (performance.now() - epochStart) / 1000,
        learningRate: learningRates[steps - 1],
        batchMs: { ...summary.timings, totalMs: (trainSeconds * 1000) / steps },
      };
      history.push(metrics);
      onEpoch?.(metrics);
    }
  } finally {
    await engine.close();
  }
  new ModelReplica(tf, model).writeParams(engine.params);
  return { model, history, workers, wallSeconds: (performance.now() - started) / 1000 };
}
