/**
 * Evaluation: the trained model on the 10,000 test images. Loads the model
 * back through the target IO handler (so what is scored is what was saved)
 * and writes accuracy, per-class accuracy and the confusion matrix as JSON.
 * It scores the model's ONNX export on ONNX Runtime, as it will be
 * registered and served, when the export predicts what the TF.js model does
 * (onnx/parity.ts), several times faster than TF.js; else the TF.js model.
 */
import type { Logger } from 'pino';
import { type DirectoryTarget, Task, type TaskContext } from '../../src';
import { codeVersion } from '../code-version';
import { fileAt } from '../store';
import { float32, readDataset, uint8 } from '../data/dataset-files';
import { exportForRegistration } from '../onnx/export-at-registration';
import { evaluateOnnx } from '../onnx/evaluate-onnx';
import { OnnxClassifier } from '../onnx/onnx-classifier';
import { OnnxParityError } from '../onnx/parity';
import { OnnxExportError } from '../onnx/tfjs-to-onnx';
import { evaluate, type Evaluation } from '../training/evaluate';
import { loadModelFrom } from '../training/model-io';
import { dataParamsOf, type TrainParams, trainParams } from './params';
import { PreprocessTestSet, type TestSetDetails } from './preprocess-task';
import { type BackendName, loadTensorFlow } from '../tf/tf-backend';
import { TRAINING_JSON, TrainModel, type TrainingRecord } from './train-task';

/** What the evaluation JSON holds. */
export interface EvaluationRecord {
  readonly taskId: string;
  readonly runId: string;
  readonly testAccuracy: number;
  readonly examples: number;
  readonly correct: number;
  /** By true class 0-9: the share of its test images classified correctly (null if there are none). */
  readonly perClassAccuracy: (number | null)[];
  /** confusionMatrix[true][predicted] = images. */
  readonly confusionMatrix: number[][];
  /** What computed the predictions: ONNX Runtime on the model's export, or a TF.js backend. */
  readonly backend: EvaluationBackend;
  readonly model: { readonly uri: string; readonly modelSha256: string; readonly trainTaskId: string };
  readonly testData: { readonly uri: string; readonly manifestSha256: string; readonly source: TestSetDetails['source'] };
}

export type EvaluationBackend = BackendName | 'onnxruntime';

export class EvaluateModel extends Task<TrainParams> {
  static override params = trainParams;
  /** 2: on ONNX Runtime through the export. */
  override readonly version = '2';

  override requires() {
    const { source, store } = dataParamsOf(this.params);
    return { model: new TrainModel(this.params), testSet: new PreprocessTestSet({ source, store }) };
  }

  override output() {
    return fileAt(this.params.store, 'mnist', 'evaluations', `${this.id}.json`);
  }

  async run(ctx: TaskContext): Promise<void> {
    const { model: modelDir, testSet } = this.input();
    const training = await modelDir.file(TRAINING_JSON).readJson<TrainingRecord>();
    const test = await readDataset<TestSetDetails>(testSet);
    const { evaluation: result, backend } = await evaluateTrained(modelDir, float32(test, 'testImages'), uint8(test, 'testLabels'), ctx.logger);
    const record: EvaluationRecord = {
      taskId: this.id,
      runId: ctx.runId,
      testAccuracy: result.accuracy,
      examples: result.count,
      correct: result.confusion.reduce((sum, row, c) => sum + row[c], 0),
      perClassAccuracy: result.perClassAccuracy.map((a) => (Number.isNaN(a) ? null : a)),
      confusionMatrix: result.confusion,
      backend,
      model: { uri: modelDir.uri, modelSha256: training.modelSha256, trainTaskId: training.taskId },
      testData: { uri: testSet.uri, manifestSha256: test.manifestSha256, source: test.manifest.details.source },
    };
    await this.output().writeJson(record);
    ctx.tracking.logMetric('test_accuracy', record.testAccuracy);
    ctx.logger.info({ testAccuracy: record.testAccuracy, examples: record.examples, backend, output: this.output().uri }, `test accuracy ${(record.testAccuracy * 100).toFixed(2)}%`);
  }
}

/** Scores the TF.js model in `modelDir`: through its ONNX export when the export exists and predicts what the model does, else on TF.js. */
async function evaluateTrained(modelDir: DirectoryTarget, images: Float32Array, labels: Uint8Array, logger: Logger): Promise<{ evaluation: Evaluation; backend: EvaluationBackend }> {
  try {
    const { files } = await exportForRegistration(modelDir, images, codeVersion().version);
    const classifier = await OnnxClassifier.openFiles(files, modelDir.uri);
    try {
      return { evaluation: await evaluateOnnx(classifier, images, labels), backend: 'onnxruntime' };
    } finally {
      await classifier.release();
    }
  } catch (err) {
    if (!(err instanceof OnnxExportError || err instanceof OnnxParityError)) throw err;
    logger.warn({ model: modelDir.uri }, `evaluating on TensorFlow.js: ${err.message}`);
  }
  const { tf, backend } = await loadTensorFlow();
  const model = await loadModelFrom(tf, modelDir);
  try {
    return { evaluation: await evaluate({ tf, model, images, labels }), backend };
  } finally {
    model.dispose();
  }
}
