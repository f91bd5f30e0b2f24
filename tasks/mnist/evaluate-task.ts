/**
 * Evaluation: the trained model on the 10,000 test images. Loads the model
 * back through the target IO handler (so what is scored is what was saved)
 * and writes accuracy, per-class accuracy and the confusion matrix as JSON.
 */
import { Task, type TaskContext } from '../../src';
import { fileAt } from '../store';
import { float32, readDataset, uint8 } from '../data/dataset-files';
import { evaluate } from '../training/evaluate';
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
  readonly backend: BackendName;
  readonly model: { readonly uri: string; readonly modelSha256: string; readonly trainTaskId: string };
  readonly testData: { readonly uri: string; readonly manifestSha256: string; readonly source: TestSetDetails['source'] };
}

export class EvaluateModel extends Task<TrainParams> {
  static override params = trainParams;
  override readonly version = '1';

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
    const { tf, backend } = await loadTensorFlow();
    const model = await loadModelFrom(tf, modelDir);
    try {
      const result = await evaluate({ tf, model, images: float32(test, 'testImages'), labels: uint8(test, 'testLabels') });
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
    } finally {
      model.dispose();
    }
  }
}
