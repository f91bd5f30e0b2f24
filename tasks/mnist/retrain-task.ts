/**
 * Retraining after drift: the MNIST training task run on a drift increment
 * (MNIST plus the labelled batches that arrived), fine-tuning a registered
 * version (the champion when the retraining was claimed) or, without one,
 * from new weights; then registration, where
 * `champion` moves under the model's promotion contract like any other
 * registration; without a contract, only when it scores better than the
 * champion on a test set that covers every source (default: MNIST's test
 * set and optdigits' held-out part), both scored now on the same images.
 */
import { param, Task, type TaskContext } from '../../src';
import type { ModelBuilder } from '../training/train-loop';
import type { ModelHyperParameters } from './model';
import { codeVersion } from '../code-version';
import { CHAMPION, contentHash, ModelRegistry, type ModelVersion, RegistryError } from '../registry/registry';
import { championPromotion } from '../registry/promotion';
import { currentContract } from '../registry/promotion-contract';
import { imageSourceScorer } from '../drift/source-scorer';
import { MODEL_ONNX, SIGNATURE_JSON } from '../onnx/signature';
import { scoreOnnxModel, scoreOnnxOnSources } from '../onnx/score-onnx-sources';
import { exportForRegistration } from '../onnx/export-at-registration';
import { trainParams } from './params';
import { registeredAndDecided } from './register-task';
import { TRAINING_JSON, TrainModel, type TrainingRecord } from './train-task';
import { loadModelFrom, MODEL_JSON, WEIGHTS_BIN } from '../training/model-io';
import { loadTensorFlow, type TensorFlow } from '../tf/tf-backend';
import { directoryAt } from '../store';
import { ModelFilesMismatchError } from './errors';
import { DriftIncrement, type DriftIncrementParams, driftIncrementParams } from './drift-increment-task';
import { type MultiSourceScore, scoreOnSources } from '../drift/evaluate-sources';
import { loadSource } from '../drift/sources/source-spec';
import { type ImageBatch, toFloatPixels } from '../drift/sources/image-batch';
import type { DirectoryTarget } from '../../src';

type TrainModelParams = ConstructorParameters<typeof TrainModel>[0];
export type RetrainParams = TrainModelParams &
  DriftIncrementParams & {
    modelName?: string;
    /** A version of `modelName` whose weights training starts from (0: new weights). */
    startFrom?: number;
  };

export const retrainParams = {
  ...trainParams,
  ...TrainModel.params,
  labelBatches: driftIncrementParams.labelBatches,
  oversample: driftIncrementParams.oversample,
  labelledShare: driftIncrementParams.labelledShare,
  modelName: param.string({ default: 'mnist-digits', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, description: 'registered model name' }),
  startFrom: param.int({ min: 0, default: 0, description: "fine-tune this registered version's weights (0: train new weights)" }),
};

/** The MNIST training task on a drift increment; the model files are as TrainModel writes them. */
export class RetrainModel extends TrainModel {
  static override params = retrainParams;

  /**
   * Fine-tuning: the version's own weights, so a short retraining learns the new
   * data without first relearning MNIST. A version without TensorFlow.js files
   * (an ONNX model trained elsewhere) cannot be fine-tuned here: new weights, said in the log.
   */
  protected override async startingModel(tf: TensorFlow, architecture: ModelHyperParameters, ctx: TaskContext): Promise<ModelBuilder> {
    const p = this.params as Required<RetrainParams>;
    if (p.startFrom === 0) return super.startingModel(tf, architecture, ctx);
    const registry = new ModelRegistry(p.store, p.modelName);
    const from = await registry.version(p.startFrom);
    if (!(MODEL_JSON in from.files)) {
      ctx.logger.warn({ version: p.startFrom }, `version ${p.startFrom} of "${p.modelName}" has no ${MODEL_JSON} (not a TensorFlow.js model): training new weights instead of fine-tuning it`);
      return super.startingModel(tf, architecture, ctx);
    }
    const model = await loadModelFrom(tf, registry.filesOf(p.startFrom));
    ctx.logger.info({ version: p.startFrom }, `fine-tuning version ${p.startFrom} of "${p.modelName}"`);
    return () => model;
  }

  /** A retraining fine-tunes `startFrom` on a drift increment with its own split: the routine warm start does not apply. */
  protected override async previousModel(): Promise<undefined> {
    return undefined;
  }

  override requires() {
    const p = this.params as Required<RetrainParams>;
    return new DriftIncrement({
      source: p.source,
      store: p.store,
      increment: p.increment,
      incrementSize: p.incrementSize,
      validationFraction: p.validationFraction,
      splitSeed: p.splitSeed,
      labelBatches: p.labelBatches,
      oversample: p.oversample,
      labelledShare: p.labelledShare,
    }) as unknown as ReturnType<TrainModel['requires']>;
  }

  override output() {
    return directoryAt(this.params.store, 'drift', 'models', this.id);
  }
}

export interface RegisterRetrainedParams extends RetrainParams {
  testSources?: string;
}

const loadSources = (testSources: string, store: string) => Promise.all(testSources.split(',').map((s) => loadSource(s.trim(), { store })));

/** Scores a TF.js model on every test source. */
async function score(tf: TensorFlow, dir: DirectoryTarget, sources: readonly ImageBatch[]): Promise<MultiSourceScore> {
  const model = await loadModelFrom(tf, dir);
  try {
    return await scoreOnSources(tf, model, sources);
  } finally {
    model.dispose();
  }
}

/**
 * The champion scored now (without a contract): on ONNX Runtime when it has an ONNX file (an export,
 * or a model trained elsewhere, such as in PyTorch), else on TensorFlow.js from its files. Retraining
 * trains the TF.js network (new weights when the version it starts from has no TF.js files), so any champion works.
 */
async function scoreChampion(tf: TensorFlow, registry: ModelRegistry, holder: ModelVersion, sources: readonly ImageBatch[]): Promise<MultiSourceScore & { runtime: 'tfjs' | 'onnx' }> {
  const files = registry.filesOf(holder.version);
  if (MODEL_ONNX in holder.files && SIGNATURE_JSON in holder.files) return { ...(await scoreOnnxOnSources(files, sources)), runtime: 'onnx' };
  if (MODEL_JSON in holder.files) return { ...(await score(tf, files, sources)), runtime: 'tfjs' };
  throw new RegistryError(
    `champion version ${holder.version} of "${registry.model}" has neither ${MODEL_JSON} nor ${MODEL_ONNX} with ${SIGNATURE_JSON} (its files: ${Object.keys(holder.files).join(', ') || 'none'}), so the retrained model cannot be compared with it; point champion at a complete version (dagwright registry alias champion <version>).`,
    'damaged',
  );
}

export class RegisterRetrained extends Task<RegisterRetrainedParams> {
  static override params = {
    ...retrainParams,
    testSources: param.string({ default: 'mnist-test,optdigits:heldout', description: 'comma-separated test sources the champion decision is made on' }),
  };
  override readonly version = '1';

  private get registry(): ModelRegistry {
    return new ModelRegistry(this.params.store, this.params.modelName!);
  }

  private get trainTask(): RetrainModel {
    const { testSources: _t, ...rest } = this.params;
    return new RetrainModel(rest);
  }

  override requires() {
    return this.trainTask;
  }

  /** Complete when the registry holds this model and the champion decision for it is recorded. */
  override async complete(): Promise<boolean> {
    const dir = this.input();
    if (!(await dir.exists())) return false;
    return registeredAndDecided(this.registry, await dir.file(TRAINING_JSON).readJson<TrainingRecord>());
  }

  async run(ctx: TaskContext): Promise<void> {
    const p = this.params as Required<RegisterRetrainedParams>;
    const dir = this.input();
    const [modelJson, weights, training] = await Promise.all([dir.file(MODEL_JSON).readBytes(), dir.file(WEIGHTS_BIN).readBytes(), dir.file(TRAINING_JSON).readJson<TrainingRecord>()]);
    if (contentHash({ [MODEL_JSON]: modelJson, [WEIGHTS_BIN]: weights }) !== training.modelSha256) throw new ModelFilesMismatchError(dir.uri, TRAINING_JSON);
    const { tf } = await loadTensorFlow();
    const sources = await loadSources(p.testSources, p.store);
    // Registered with its ONNX export, as every trained model is, when the export predicts what it does on the first test source; scored on the export.
    const onnx = await exportForRegistration(dir, toFloatPixels(sources[0].pixels), codeVersion().version);
    const files = { [MODEL_JSON]: modelJson, [WEIGHTS_BIN]: weights, ...onnx.files };
    const candidate = await scoreOnnxModel(onnx.files, sources, dir.uri);
    const aliases = await this.registry.aliases();
    const holder = CHAMPION in aliases ? await this.registry.version(aliases[CHAMPION]) : undefined;
    // Under a promotion contract the decision scores the champion on the contract's sources and records it; scoring it here as well only cost time.
    const contract = await currentContract(this.registry);
    const incumbent = holder && !contract ? await scoreChampion(tf, this.registry, holder, sources) : undefined;
    if (incumbent && !(MODEL_JSON in holder!.files)) ctx.logger.info({ champion: holder!.version }, `champion version ${holder!.version} has no TensorFlow.js files (an ONNX model): scored on ONNX Runtime`);
    const mnist = candidate.sources.find((s) => s.source === 'mnist-test');
    const result = await this.registry.register({
      files,
      tags: { trigger: 'drift' },
      metrics: {
        ...(mnist ? { testAccuracy: mnist.accuracy } : {}),
        multiSourceAccuracy: candidate.meanAccuracy,
        sourceAccuracy: Object.fromEntries(candidate.sources.map((s) => [s.source, s.accuracy])),
        validationAccuracy: training.final.valAccuracy,
        trainingSeconds: training.wallSeconds,
        onnxParityMaxAbsDifference: onnx.parity.maxAbsDifference,
      },
      lineage: {
        data: training.data,
        training: { taskId: training.taskId, runId: training.runId, uri: dir.uri, params: training.params, backend: training.backend, modelSha256: training.modelSha256, code: training.code },
        evaluation: { testSources: p.testSources, candidate, champion: incumbent && holder ? { version: holder.version, ...incumbent } : null, ...(contract ? { decidedUnderContract: contract.version } : {}) },
        registration: { taskId: this.id, runId: ctx.runId, code: codeVersion() },
      },
      // The same decision as every other path: the contract when declared; without one, mean accuracy on testSources, both re-scored now.
      promote: championPromotion(this.registry, imageSourceScorer(), { kind: 'rescored-mean-accuracy', sources: p.testSources.split(',').map((s) => s.trim()) }),
    });
    ctx.logger.info(
      { version: result.version.version, promoted: result.promoted, candidate: candidate.sources, champion: incumbent?.sources },
      `retrained model: version ${result.version.version}, mean accuracy ${(candidate.meanAccuracy * 100).toFixed(2)}% vs champion ${incumbent ? (incumbent.meanAccuracy * 100).toFixed(2) + '%' : contract ? `scored under contract v${contract.version}` : 'none'}` +
        (result.promoted.length ? ' (now champion)' : ' (champion stays)'),
    );
  }
}
