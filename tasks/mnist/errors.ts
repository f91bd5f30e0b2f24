/** Errors of the MNIST tasks. Not retryable: the same files give the same answer; each says what to do. */
import { DagwrightError } from '../../src/public/errors';

/** MNIST data that cannot be used as asked: images that are not 28x28, too few images for an increment, examples out of range. */
export class MnistDataError extends DagwrightError {}

/** The MNIST source folder lacks some of its four IDX files: data this flow does not make. */
export class MnistSourceMissingError extends DagwrightError {
  constructor(
    readonly location: string,
    readonly missing: readonly string[],
    expected: readonly string[],
  ) {
    super(`the MNIST source ${location} is missing ${missing.join(', ')}; it must hold ${expected.join(', ')} (uncompressed IDX files).`);
  }
}

/** A training output's model files do not match the hash its training record gives: they changed after training. */
export class ModelFilesMismatchError extends DagwrightError {
  constructor(
    readonly uri: string,
    detail: string,
  ) {
    super(`${uri}: model files do not match the hash in ${detail}; retrain the model`);
  }
}
