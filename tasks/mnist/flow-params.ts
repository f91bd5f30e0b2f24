/**
 * Command-line parameters of the MNIST flows, shared by flows/*.ts, and the
 * check that turns a bad `--increment` into a usage error (exit 2) before
 * anything runs.
 */
import { UsageError } from '../../src';
import { incrementProblem } from './increments';
import { dataParams, trainParams } from './params';

/** Everything a data version depends on except the store (which comes from `--store`). */
export const dataFlowParams = {
  source: dataParams.source,
  increment: dataParams.increment,
  incrementSize: dataParams.incrementSize,
  validationFraction: dataParams.validationFraction,
  splitSeed: dataParams.splitSeed,
  splitBy: dataParams.splitBy,
};

/** Throws a usage error naming `--increment` when it is out of range for `--increment-size`. */
export function checkIncrementOption(increment: number, incrementSize: number): void {
  const problem = incrementProblem(increment, incrementSize);
  if (problem) throw new UsageError(`--increment got ${increment}; expected ${problem}. Pass --increment <1..> (and --increment-size).`);
}

/** Everything a trained model depends on except the store. */
export const trainFlowParams = {
  ...dataFlowParams,
  epochs: trainParams.epochs,
  batchSize: trainParams.batchSize,
  learningRate: trainParams.learningRate,
  seed: trainParams.seed,
  augmentShift: trainParams.augmentShift,
  warmStart: trainParams.warmStart,
  replay: trainParams.replay,
};
