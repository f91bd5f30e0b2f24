/**
 * A reproducible train/validation split: the same seed and size always give
 * the same indices, on every machine (no Math.random).
 */
import { mulberry32, shuffledIndices } from './seeded-random';

export interface Split {
  /** Indices of the training examples, ascending. */
  readonly train: Uint32Array;
  /** Indices of the validation examples, ascending. */
  readonly validation: Uint32Array;
}

/** Splits `0..count-1`: a seeded shuffle picks `round(count * validationFraction)` examples (at least 1) for validation. */
export function seededSplit(count: number, validationFraction: number, seed: number): Split {
  const order = Uint32Array.from(shuffledIndices(count, mulberry32(seed)));
  const validationCount = Math.min(count - 1, Math.max(1, Math.round(count * validationFraction)));
  return {
    validation: order.slice(0, validationCount).sort(),
    train: order.slice(validationCount).sort(),
  };
}

/**
 * Splits `0..count-1` block by block (`blockSize` indices each, the last one
 * maybe shorter), each block by its own seeded shuffle (`seed` + block
 * number): the first k blocks split alike whatever follows them, so as data
 * grows by blocks no index ever changes side (a model trained on block 1's
 * training part is never validated on it later).
 */
export function blockwiseSplit(count: number, blockSize: number, validationFraction: number, seed: number): Split {
  const train: number[] = [];
  const validation: number[] = [];
  for (let start = 0, block = 0; start < count; start += blockSize, block++) {
    const part = seededSplit(Math.min(blockSize, count - start), validationFraction, seed + block);
    for (const i of part.train) train.push(start + i);
    for (const i of part.validation) validation.push(start + i);
  }
  return { train: Uint32Array.from(train), validation: Uint32Array.from(validation) };
}
