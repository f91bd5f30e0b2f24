/**
 * Registration of the PyTorch-trained model: evaluated on the test images
 * with ONNX Runtime, then registered as an ONNX version under the same
 * promotion contract as the TF.js model (`champion` moves when it beats the
 * champion's test accuracy), so the two compete and a server swaps between
 * them.
 */
import { createHash } from 'node:crypto';
import { param, Task, type TaskContext } from '../../../src';
import { codeVersion } from '../../code-version';
import { float32, readDataset, uint8 } from '../../data/dataset-files';
import { dataParamsOf, type TrainParams, trainParams } from '../params';
import { PreprocessTestSet } from '../preprocess-task';
import { CHAMPION } from '../register-task';
import { championPromotion } from '../../registry/promotion';
import { imageSourceScorer } from '../../drift/source-scorer';
import { evaluateOnnx } from '../../onnx/evaluate-onnx';
import { OnnxClassifier } from '../../onnx/onnx-classifier';
import { registerOnnxModel } from '../../onnx/register-onnx';
import { MODEL_ONNX, readSignature, SIGNATURE_JSON } from '../../onnx/signature';
import { DEFAULT_MODEL_NAME, ModelRegistry } from '../../registry/registry';
import { PYTORCH_TRAINING_JSON, TrainPytorchModel } from './train-task';

export interface RegisterPytorchParams extends TrainParams {
  modelName?: string;
}

export class RegisterPytorchModel extends Task<RegisterPytorchParams> {
  static override params = {
    ...trainParams,
    modelName: param.string({ default: DEFAULT_MODEL_NAME, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, description: 'registered model name' }),
  };
  override readonly version = '1';

  private get trainParams(): Required<TrainParams> {
    const { modelName: _name, ...rest } = this.params;
    return rest;
  }

  private get registry(): ModelRegistry {
    return new ModelRegistry(this.params.store, this.params.modelName);
  }

  override requires() {
    const { source, store } = dataParamsOf(this.trainParams);
    return { model: new TrainPytorchModel(this.trainParams), testSet: new PreprocessTestSet({ source, store }) };
  }

  /** Complete when a version holds this model file and its champion decision was recorded. */
  override async complete(): Promise<boolean> {
    const modelDir = this.input().model;
    if (!(await modelDir.exists())) return false;
    const sha = createHash('sha256').update(await modelDir.file(MODEL_ONNX).readBytes()).digest('hex');
    const version = (await this.registry.versions()).find((v) => v.lineage.onnxSha256 === sha);
    return version !== undefined && (await this.registry.aliasDecided(CHAMPION, version.version));
  }

  async run(ctx: TaskContext): Promise<void> {
    const { model: modelDir, testSet } = this.input();
    const [onnx, signatureBytes, training] = await Promise.all([
      modelDir.file(MODEL_ONNX).readBytes(),
      modelDir.file(SIGNATURE_JSON).readBytes(),
      modelDir.file(PYTORCH_TRAINING_JSON).readJson<Record<string, unknown>>(),
    ]);
    const signature = readSignature(signatureBytes, modelDir.file(SIGNATURE_JSON).uri);
    const test = await readDataset(testSet, ['testImages', 'testLabels']);
    const classifier = await OnnxClassifier.open(onnx, signature);
    const evaluation = await evaluateOnnx(classifier, float32(test, 'testImages'), uint8(test, 'testLabels')).finally(() => classifier.release());
    ctx.tracking.logMetric('test_accuracy', evaluation.accuracy);
    const final = (training.final ?? {}) as Record<string, number | null>;
    const result = await registerOnnxModel(this.registry, {
      onnx,
      signature,
      metrics: {
        testAccuracy: evaluation.accuracy,
        perClassAccuracy: evaluation.perClassAccuracy.map((a) => (Number.isNaN(a) ? null : a)),
        validationAccuracy: final.valAccuracy ?? null,
        trainAccuracy: final.accuracy ?? null,
        trainLoss: final.loss ?? null,
        trainingSeconds: training.wallSeconds ?? null,
        samplesPerSecond: training.samplesPerSecond ?? null,
      },
      lineage: {
        framework: 'pytorch',
        data: training.data,
        testData: { uri: testSet.uri, manifestSha256: test.manifestSha256 },
        training: { taskId: training.taskId, runId: training.runId, uri: modelDir.uri, params: training.params, torch: training.torch },
        run: training.runId,
        registration: { taskId: this.id, runId: ctx.runId, code: codeVersion() },
      },
      promote: championPromotion(this.registry, imageSourceScorer(), { kind: 'stored-test-accuracy' }),
    });
    const { version } = result;
    ctx.logger.info(
      { model: version.model, version: version.version, created: result.created, promoted: result.promoted, testAccuracy: evaluation.accuracy },
      `${result.created ? 'registered' : 'already registered:'} ${version.model} version ${version.version} (PyTorch, ONNX)${result.promoted.length ? `, now ${result.promoted.join(', ')}` : ''}`,
    );
  }
}
