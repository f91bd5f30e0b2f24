/**
 * Training: one model per data version and set of hyper-parameters. Loads
 * the preprocessed increment, picks the best TensorFlow.js backend
 * available (logged and recorded), trains with the engine in train-loop.ts
 * and writes one directory target:
 *
 *   model.json, weights.bin   the tfjs layers model (see model-io.ts)
 *   metrics.json              per-epoch loss, accuracy, validation accuracy, samples/s, wall time
 *   training.json             lineage: data hashes, parameters, backend, run id, code version, model hash
 */
import { type DirectoryTarget, ParameterError, Task, type TaskContext, type TaskResources } from '../../src';
import { MnistDataError } from './errors';
import { codeVersion, type CodeVersion } from '../code-version';
import { contentHash } from '../registry/registry';
import { directoryAt } from '../store';
import { float32, type LoadedDataset, readDataset, uint8 } from '../data/dataset-files';
import { mulberry32, shuffledIndices } from '../data/seeded-random';
import { loadModelFrom, MODEL_JSON, serializeModel, WEIGHTS_BIN, writeModelFiles } from '../training/model-io';
import { buildModel, DEFAULT_MODEL, type ModelHyperParameters } from './model';
import { dataParamsOf, type TrainParams, trainParams } from './params';
import { type IncrementDetails, PreprocessIncrement } from './preprocess-task';
import { type BackendName, loadTensorFlow, type TensorFlow } from '../tf/tf-backend';
import { type EpochMetrics, type ModelBuilder, trainClassifier, type TrainClassifierOptions } from '../training/train-loop';

export const METRICS_JSON = 'metrics.json';
export const TRAINING_JSON = 'training.json';
/** Training steps between the within-epoch metrics (batch_loss, batch_accuracy) the run records. */
const STEP_METRICS_EVERY = 50;

/** The log lines, progress and tracked metrics of a training run: per epoch, and every STEP_METRICS_EVERY steps within one. */
function trainingReports(ctx: TaskContext, epochs: number): Pick<TrainClassifierOptions, 'onEpoch' | 'onSteps' | 'stepMetricsEvery'> {
  return {
    onEpoch: (m) => {
      ctx.logger.info(
        { epoch: m.epoch, loss: round(m.loss), accuracy: round(m.accuracy), valAccuracy: round(m.valAccuracy), samplesPerSecond: Math.round(m.samplesPerSecond), wallSeconds: round(m.wallSeconds, 1) },
        `epoch ${m.epoch}/${epochs}`,
      );
      ctx.progress(m.epoch, epochs, 'epochs');
      for (const [key, value] of [['loss', m.loss], ['accuracy', m.accuracy], ['val_accuracy', m.valAccuracy], ['samples_per_second', m.samplesPerSecond]] as const) ctx.tracking.logMetric(key, value, m.epoch);
    },
    // Within epochs, by training step: the curve a long epoch would otherwise hide.
    onSteps: (m) => {
      ctx.tracking.logMetric('batch_loss', m.loss, m.step);
      ctx.tracking.logMetric('batch_accuracy', m.accuracy, m.step);
    },
    stepMetricsEvery: STEP_METRICS_EVERY,
  };
}

/** What `training.json` records. */
export interface TrainingRecord {
  readonly taskId: string;
  readonly runId: string;
  /** sha256 over model.json and weights.bin (the registry's content hash). */
  readonly modelSha256: string;
  readonly params: Required<Omit<TrainParams, 'store'>>;
  readonly architecture: ModelHyperParameters;
  readonly backend: BackendName;
  /** Gradient worker threads used (0: the task's own thread). */
  readonly workers: number;
  readonly wallSeconds: number;
  /** Training images this run learned from: the increment's, or with a warm start those it adds and those it replayed. */
  readonly trainedOn: number;
  /** With a warm start: how many of `trainedOn` were earlier increments' images, learned again. */
  readonly replayed?: number;
  readonly final: { readonly loss: number; readonly accuracy: number; readonly valAccuracy: number | null };
  readonly data: {
    readonly uri: string;
    readonly manifestSha256: string;
    readonly increment: number;
    readonly incrementSize: number;
    readonly images: number;
    readonly train: number;
    readonly validation: number;
    readonly tensors: Readonly<Record<string, string>>;
    readonly source: IncrementDetails['source'];
  };
  readonly code: CodeVersion;
  /** With --warm-start: the model of the increment before, which training continued. */
  readonly startedFrom?: { readonly taskId: string; readonly uri: string; readonly modelSha256: string };
}

/** What `metrics.json` holds. */
export interface TrainingMetrics {
  readonly epochs: EpochMetrics[];
}

export class TrainModel extends Task<TrainParams> {
  static override params = trainParams;
  /** 2: data-parallel steps with Adam in the workers (other model bytes), image shifts. 3: a short run's warm-up is a tenth of it. */
  override readonly version = '3';
  /** Gradients are computed in one worker thread per core: give the step two cores. */
  override readonly resources: TaskResources = { cpus: 2, memoryMb: 3072 };

  constructor(params: TrainParams) {
    super(params);
    if (this.params.warmStart && this.params.splitBy !== 'increment') {
      throw new ParameterError(this.family, 'warmStart', true, "--split-by increment with it: with one shuffle of all the images, validation would hold images the earlier models trained on");
    }
  }

  override requires() {
    return new PreprocessIncrement(dataParamsOf(this.params));
  }

  /** With --warm-start, the model of the increment before: a dynamic requirement, trained first when missing. */
  protected async previousModel(ctx: TaskContext): Promise<DirectoryTarget | undefined> {
    const { warmStart, increment } = this.params;
    if (!warmStart || increment! <= 1) return undefined;
    return ctx.require(new TrainModel({ ...this.params, increment: increment! - 1 }));
  }

  override output() {
    return directoryAt(this.params.store, 'mnist', 'models', this.id);
  }

  /** The model training starts from: the previous increment's (warm start), else a new one, its weights drawn from the seed. */
  protected async startingModel(tf: TensorFlow, architecture: ModelHyperParameters, ctx: TaskContext, previous?: DirectoryTarget): Promise<ModelBuilder> {
    if (!previous) return (t) => buildModel(t, architecture);
    const model = await loadModelFrom(tf, previous);
    ctx.logger.info({ from: previous.uri }, `continuing the model of increment ${this.params.increment! - 1}`);
    return () => model;
  }

  async run(ctx: TaskContext): Promise<void> {
    const { epochs, batchSize, learningRate, seed, augmentShift } = this.params;
    const previous = await this.previousModel(ctx);
    const dataDir = this.input();
    const data = await readDataset<IncrementDetails>(dataDir);
    const details = data.manifest.details;
    const { tf, backend } = await loadTensorFlow();
    const architecture: ModelHyperParameters = { ...DEFAULT_MODEL, seed };
    ctx.logger.info({ backend, train: details.split.train, validation: details.split.validation, epochs, batchSize, learningRate, seed, augmentShift }, `training on the ${backend} backend`);
    const { xTrain, yTrain, replayed } = previous ? warmStartPart(data, dataDir.uri, this.params.replay!, seed! + details.increment) : wholeTrainingPart(data);
    ctx.tracking.logParams({ epochs, batchSize, learningRate, seed, augmentShift, backend, increment: details.increment, trainImages: yTrain.length, warmStart: previous !== undefined, replayed });

    const result = await trainClassifier({
      tf,
      buildModel: await this.startingModel(tf, architecture, ctx, previous),
      xTrain,
      yTrain,
      xVal: float32(data, 'validationImages'),
      yVal: uint8(data, 'validationLabels'),
      epochs,
      batchSize,
      learningRate,
      seed,
      augmentShift,
      signal: ctx.signal,
      ...trainingReports(ctx, epochs),
    });
    try {
      const last = result.history.at(-1)!;
      const { store: _store, ...params } = this.params;
      const files = await serializeModel(tf, result.model);
      const record: TrainingRecord = {
        taskId: this.id,
        runId: ctx.runId,
        modelSha256: contentHash({ [MODEL_JSON]: files.modelJson, [WEIGHTS_BIN]: files.weights }),
        params,
        architecture,
        backend,
        workers: result.workers,
        wallSeconds: result.wallSeconds,
        trainedOn: yTrain.length,
        ...(previous ? { replayed } : {}),
        final: { loss: last.loss, accuracy: last.accuracy, valAccuracy: Number.isNaN(last.valAccuracy) ? null : last.valAccuracy },
        data: {
          uri: dataDir.uri,
          manifestSha256: data.manifestSha256,
          increment: details.increment,
          incrementSize: details.incrementSize,
          images: details.images,
          train: details.split.train,
          validation: details.split.validation,
          tensors: Object.fromEntries(Object.entries(data.manifest.tensors).map(([name, t]) => [name, t.sha256])),
          source: details.source,
        },
        code: codeVersion(),
        ...(previous ? { startedFrom: await startedFrom(previous) } : {}),
      };
      const metrics: TrainingMetrics = { epochs: result.history };
      await this.output().write(async (dir) => {
        await writeModelFiles(dir, files);
        await dir.write(METRICS_JSON, `${JSON.stringify(metrics, null, 2)}\n`);
        await dir.write(TRAINING_JSON, `${JSON.stringify(record, null, 2)}\n`);
      });
      ctx.logger.info({ output: this.output().uri, modelSha256: record.modelSha256, valAccuracy: record.final.valAccuracy, wallSeconds: round(result.wallSeconds, 1) }, 'model saved');
    } finally {
      result.model.dispose();
    }
  }
}

interface TrainingPart {
  readonly xTrain: Float32Array;
  readonly yTrain: Uint8Array;
  readonly replayed: number;
}

function wholeTrainingPart(data: LoadedDataset<IncrementDetails>): TrainingPart {
  return { xTrain: float32(data, 'trainImages'), yTrain: uint8(data, 'trainLabels'), replayed: 0 };
}

/**
 * A warm start's training images: those the increment adds (the last
 * `newTrain`), and `replay` times as many of the earlier ones, drawn by a
 * seeded shuffle. Without the replay a chain of warm starts leans toward
 * the newest increments (MNIST's blocks differ by writer), and its class
 * probabilities drift away from its whole-data reference.
 */
function warmStartPart(data: LoadedDataset<IncrementDetails>, where: string, replay: number, seed: number): TrainingPart {
  const xAll = float32(data, 'trainImages');
  const yAll = uint8(data, 'trainLabels');
  const { train, newTrain } = data.manifest.details.split;
  if (newTrain === undefined) throw new MnistDataError(`${where} does not say which training images its increment adds: preprocess it again with --split-by increment`);
  const earlier = train - newTrain;
  const replayed = Math.min(earlier, Math.round(newTrain * replay));
  const picks = shuffledIndices(earlier, mulberry32(seed)).subarray(0, replayed);
  const pixels = xAll.length / train;
  const xTrain = new Float32Array((replayed + newTrain) * pixels);
  const yTrain = new Uint8Array(replayed + newTrain);
  picks.forEach((from, i) => {
    xTrain.set(xAll.subarray(from * pixels, (from + 1) * pixels), i * pixels);
    yTrain[i] = yAll[from];
  });
  xTrain.set(xAll.subarray(earlier * pixels), replayed * pixels);
  yTrain.set(yAll.subarray(earlier), replayed);
  return { xTrain, yTrain, replayed };
}

async function startedFrom(previous: DirectoryTarget): Promise<TrainingRecord['startedFrom']> {
  const record = await previous.file(TRAINING_JSON).readJson<TrainingRecord>();
  return { taskId: record.taskId, uri: previous.uri, modelSha256: record.modelSha256 };
}

function round(n: number, digits = 4): number {
  return Number(n.toFixed(digits));
}
