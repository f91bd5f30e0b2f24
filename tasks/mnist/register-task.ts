/**
 * Registration: puts a trained and evaluated model into the store's model
 * registry (tasks/registry/registry.ts) as a new version with its lineage,
 * and moves `champion` to it when the model's promotion contract says so
 * (tasks/registry/promotion.ts); without a contract, when it beats the
 * current champion's stored test accuracy. The same model (same content hash) is never registered twice:
 * the task is complete once the registry holds it and recorded its champion
 * decision.
 */
import { param, Task, type TaskContext } from '../../src';
import { codeVersion } from '../code-version';
import { CHAMPION, contentHash, DEFAULT_MODEL_NAME, ModelRegistry, type ModelVersion } from '../registry/registry';
import { championPromotion } from '../registry/promotion';
import { imageSourceScorer } from '../drift/source-scorer';
import { EvaluateModel, type EvaluationRecord } from './evaluate-task';
import { float32, readDataset } from '../data/dataset-files';
import { exportForRegistration } from '../onnx/export-at-registration';
import { PreprocessTestSet } from './preprocess-task';
import { ModelFilesMismatchError } from './errors';
import { MODEL_JSON, WEIGHTS_BIN } from '../training/model-io';
import { dataParamsOf, type TrainParams, trainParams } from './params';
import { METRICS_JSON, TRAINING_JSON, TrainModel, type TrainingMetrics, type TrainingRecord } from './train-task';

export { CHAMPION } from '../registry/registry';

export interface RegisterParams extends TrainParams {
  modelName?: string;
  tags?: string;
}

/** `a=1,b=2` -> { a: '1', b: '2' }. */
export function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const eq = pair.indexOf('=');
    tags[(eq < 0 ? pair : pair.slice(0, eq)).trim()] = eq < 0 ? '' : pair.slice(eq + 1).trim();
  }
  return tags;
}

/** Today's rule without a contract (tasks/registry/promotion.ts applies it as 'stored-test-accuracy'). */
export const beatsOnTestAccuracy = (candidate: ModelVersion, champion: ModelVersion): boolean =>
  (candidate.metrics.testAccuracy as number) > (champion.metrics.testAccuracy as number);

/** Whether the registry holds the model `training` describes and recorded the champion decision for it. */
export async function registeredAndDecided(registry: ModelRegistry, training: Pick<TrainingRecord, 'modelSha256'>): Promise<boolean> {
  // Versions registered with their ONNX export hash more files: the TF.js model's hash is in the lineage.
  const version = (await registry.versions()).find((v) => v.contentSha256 === training.modelSha256 || (v.lineage.training as { modelSha256?: string } | undefined)?.modelSha256 === training.modelSha256);
  return version !== undefined && (await registry.aliasDecided(CHAMPION, version.version));
}

export class RegisterModel extends Task<RegisterParams> {
  static override params = {
    ...trainParams,
    modelName: param.string({ default: DEFAULT_MODEL_NAME, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, description: 'registered model name' }),
    tags: param.string({ default: '', pattern: /^([^=,]+=[^,]*)?(,[^=,]+=[^,]*)*$/, significant: false, description: 'tags for a new version, key=value,...' }),
  };
  override readonly version = '1';

  private get trainParams(): Required<TrainParams> {
    const { modelName: _name, tags: _tags, ...rest } = this.params;
    return rest;
  }

  private get registry(): ModelRegistry {
    return new ModelRegistry(this.params.store, this.params.modelName);
  }

  override requires() {
    const { source, store } = dataParamsOf(this.trainParams);
    return { model: new TrainModel(this.trainParams), evaluation: new EvaluateModel(this.trainParams), testSet: new PreprocessTestSet({ source, store }) };
  }

  /**
   * Complete when the registry holds a version with this model's content and
   * the champion decision for it was recorded (a run cut short between the
   * two, or a damaged aliases.json, is finished by the next run).
   */
  override async complete(): Promise<boolean> {
    const modelDir = this.input().model;
    if (!(await modelDir.exists())) return false;
    return registeredAndDecided(this.registry, await modelDir.file(TRAINING_JSON).readJson<TrainingRecord>());
  }

  async run(ctx: TaskContext): Promise<void> {
    const { model: modelDir, evaluation, testSet } = this.input();
    const [modelJson, weights, training, metrics, evaluated] = await Promise.all([
      modelDir.file(MODEL_JSON).readBytes(),
      modelDir.file(WEIGHTS_BIN).readBytes(),
      modelDir.file(TRAINING_JSON).readJson<TrainingRecord>(),
      modelDir.file(METRICS_JSON).readJson<TrainingMetrics>(),
      evaluation.readJson<EvaluationRecord>(),
    ]);
    if (contentHash({ [MODEL_JSON]: modelJson, [WEIGHTS_BIN]: weights }) !== training.modelSha256) {
      throw new ModelFilesMismatchError(modelDir.uri, `${TRAINING_JSON} (${training.modelSha256})`);
    }
    // The ONNX export is registered beside the TF.js files only when it predicts what they do on the test images.
    const onnx = await exportForRegistration(modelDir, float32(await readDataset(testSet, ['testImages']), 'testImages'), codeVersion().version);
    const files = { [MODEL_JSON]: modelJson, [WEIGHTS_BIN]: weights, ...onnx.files };
    const lastEpoch = metrics.epochs.at(-1);
    const result = await this.registry.register({
      files,
      tags: parseTags(this.params.tags),
      metrics: {
        testAccuracy: evaluated.testAccuracy,
        perClassAccuracy: evaluated.perClassAccuracy,
        validationAccuracy: training.final.valAccuracy,
        trainAccuracy: training.final.accuracy,
        trainLoss: training.final.loss,
        trainingSeconds: training.wallSeconds,
        samplesPerSecond: lastEpoch?.samplesPerSecond ?? null,
        onnxParityMaxAbsDifference: onnx.parity.maxAbsDifference,
      },
      lineage: {
        data: training.data,
        testData: evaluated.testData,
        training: {
          taskId: training.taskId,
          runId: training.runId,
          uri: modelDir.uri,
          params: training.params,
          architecture: training.architecture,
          backend: training.backend,
          workers: training.workers,
          modelSha256: training.modelSha256,
          code: training.code,
        },
        evaluation: { taskId: evaluated.taskId, runId: evaluated.runId, uri: evaluation.uri, backend: evaluated.backend },
        registration: { taskId: this.id, runId: ctx.runId, code: codeVersion() },
      },
      // Under the model's promotion contract when one is declared; without one, today's rule (stored test accuracy).
      promote: championPromotion(this.registry, imageSourceScorer(), { kind: 'stored-test-accuracy' }),
    });
    const { version } = result;
    ctx.logger.info(
      { model: version.model, version: version.version, created: result.created, promoted: result.promoted, testAccuracy: evaluated.testAccuracy },
      result.created
        ? `registered ${version.model} version ${version.version}${result.promoted.length ? ` (now ${result.promoted.join(', ')})` : ''}`
        : `${version.model} version ${version.version} already holds this model`,
    );
  }
}
