/**
 * Scores a model on several test sources at once (MNIST's test set and the
 * held-out part of a shifted source): the accuracy on each and their mean,
 * so that a small shifted test set counts as much as MNIST's 10,000 images
 * when deciding whether a retrained model is better.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { predictClassesInTurns, scorePredictions } from '../training/evaluate';
import type { TensorFlow } from '../tf/tf-backend';
import { type ImageBatch, toFloatPixels } from './sources/image-batch';
import { DriftDataError } from './errors';

export interface SourceScore {
  readonly source: string;
  readonly count: number;
  readonly accuracy: number;
}

export interface MultiSourceScore {
  readonly sources: SourceScore[];
  /** Mean of the per-source accuracies. */
  readonly meanAccuracy: number;
}

export async function scoreOnSources(tf: TensorFlow, model: tfjs.LayersModel, sources: readonly ImageBatch[]): Promise<MultiSourceScore> {
  const scores: SourceScore[] = [];
  for (const s of sources) {
    if (!s.labels) throw new DriftDataError(`test source ${s.name} has no labels: name labelled test sources (e.g. mnist-test, optdigits:heldout, labels:<batchId>)`);
    const predictions = await predictClassesInTurns(tf, model, toFloatPixels(s.pixels), s.count);
    scores.push({ source: s.name, count: s.count, accuracy: scorePredictions(predictions, s.labels).accuracy });
  }
  return multiSourceScore(scores);
}

/** The per-source scores with their mean. */
export function multiSourceScore(sources: SourceScore[]): MultiSourceScore {
  return { sources, meanAccuracy: sources.reduce((a, s) => a + s.accuracy, 0) / Math.max(1, sources.length) };
}
