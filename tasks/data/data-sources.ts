/**
 * Where each image of a training data set came from, so that a reader can
 * draw from the data source by source (a version's drift reference does,
 * tasks/drift/reference-sample.ts). A data set made of several sources (a
 * drift increment: MNIST plus labelled batches) records them in its
 * manifest's `details.sources` and, per image, the index of its source:
 *
 *   trainSources.u8       one index per training image (oversampled repeats included)
 *   validationSources.u8  one index per validation image
 *
 * The first source is the data's base (what the model family trains on,
 * MNIST); later ones were added (labelled batches). A data set without them
 * (a plain preprocessed increment) is one source.
 */
import { DatasetError } from './errors';

export const TRAIN_SOURCES = 'trainSources';
export const VALIDATION_SOURCES = 'validationSources';

/** A uint8 index names the source, so a data set holds at most this many. */
export const MAX_DATA_SOURCES = 256;

/** One source of a data set: its name (e.g. `mnist-train[0:12000]`, or a labelled batch's `source`) and its distinct images. */
export interface DataSourceCount {
  readonly name: string;
  /** Distinct images from this source in the data set (train and validation; repeats from oversampling not counted). */
  readonly images: number;
}

/** Checks that `sources` fit a uint8 index; throws naming how many there are. */
export function checkSourceCount(sources: readonly DataSourceCount[]): void {
  if (sources.length > MAX_DATA_SOURCES) {
    throw new DatasetError(`a data set records at most ${MAX_DATA_SOURCES} sources, got ${sources.length}: retrain on labelled batches from fewer sources (batches with the same source count as one)`);
  }
}
