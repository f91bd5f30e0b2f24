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
