/**
 * The story's data versions: increment 1 is the first `incrementSize` training
 * images, each later increment adds the next slice, and the last one holds
 * all of them. With the default 10,000 images per increment, MNIST's 60,000
 * training images make 6 increments.
 */

/** Training images in MNIST (and Fashion-MNIST). */
export const MNIST_TRAIN_IMAGES = 60_000;
/** Test images in MNIST. */
export const MNIST_TEST_IMAGES = 10_000;
/** Images added by each increment unless `--increment-size` says otherwise. */
export const DEFAULT_INCREMENT_SIZE = 10_000;

/** How many increments `total` images make: the last may be shorter. */
export function incrementCount(incrementSize: number, total = MNIST_TRAIN_IMAGES): number {
  return Math.ceil(total / incrementSize);
}

/** The number of training images increment `increment` covers (a prefix of the training set). */
export function incrementImages(increment: number, incrementSize: number, total = MNIST_TRAIN_IMAGES): number {
  return Math.min(increment * incrementSize, total);
}

/** Why `increment` is not valid for this increment size, in words; undefined when it is. */
export function incrementProblem(increment: number, incrementSize: number, total = MNIST_TRAIN_IMAGES): string | undefined {
  const count = incrementCount(incrementSize, total);
  if (Number.isSafeInteger(increment) && increment >= 1 && increment <= count) return undefined;
  return `an integer from 1 to ${count} (${total} training images in increments of ${incrementSize})`;
}
