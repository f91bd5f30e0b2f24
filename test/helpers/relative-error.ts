import { expect } from 'vitest';

/** Largest absolute difference, relative to the largest magnitude of the reference (which must not be all zeros). */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}
