/**
 * The parameters the MNIST tasks share, declared once. Flows reuse these
 * declarations for their command-line options.
 */
import { param } from '../../src';
import { DEFAULT_INCREMENT_SIZE, incrementCount } from './increments';
import { sourceParam } from './source';
import { DEFAULT_TRAINING } from '../training/train-loop';

/** What identifies a preprocessed increment. Optional fields have defaults. */
export interface DataParams {
  source?: string;
  store: string;
  increment?: number;
  incrementSize?: number;
  validationFraction?: number;
  splitSeed?: number;
}

export const dataParams = {
  source: sourceParam,
  store: param.string({ description: 'store folder or s3:// prefix for outputs', significant: false }),
  increment: param.int({
    min: 1,
    default: incrementCount(DEFAULT_INCREMENT_SIZE),
    description: `data version: the first increment * increment-size training images (${incrementCount(DEFAULT_INCREMENT_SIZE)} = all)`,
  }),
  incrementSize: param.int({ min: 100, max: 60_000, default: DEFAULT_INCREMENT_SIZE, description: 'training images each increment adds' }),
  validationFraction: param.number({ min: 0.001, max: 0.5, default: 0.05, description: 'share of the increment held out for validation' }),
  splitSeed: param.int({ min: 0, default: 42, description: 'seed of the train/validation split' }),
};


/** The data parameters out of a larger set (what a preprocess task takes). */
export function dataParamsOf(params: Required<DataParams>): Required<DataParams> {
  const { source, store, increment, incrementSize, validationFraction, splitSeed } = params;
  return { source, store, increment, incrementSize, validationFraction, splitSeed };
}

/** What identifies a trained model: its data and its training parameters. */
export interface TrainParams extends DataParams {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
}

export const trainParams = {
  ...dataParams,
  epochs: param.int({ min: 1, max: 1000, default: DEFAULT_TRAINING.epochs, description: 'passes over the training images' }),
  batchSize: param.int({ min: 1, max: 60_000, default: DEFAULT_TRAINING.batchSize, description: 'examples per gradient step' }),
  learningRate: param.number({ min: 1e-6, max: 1, default: DEFAULT_TRAINING.learningRate, description: 'peak learning rate (Adam, warm-up then cosine decay)' }),
  seed: param.int({ min: 0, default: DEFAULT_TRAINING.seed, description: 'seed of weight initialisation and batch order' }),
};

/** The training parameters out of a larger set. */
export function trainParamsOf(params: Required<TrainParams>): Required<TrainParams> {
  const { epochs, batchSize, learningRate, seed } = params;
  return { ...dataParamsOf(params), epochs, batchSize, learningRate, seed };
}
