/** Augmentation by translation: what moves where, and that shifts are seeded and spread over the whole range. */
import { describe, expect, it } from 'vitest';

import { shiftOf, translateSample } from '../tasks/training/augment';

describe('translateSample', () => {
  const source = Float32Array.from({ length: 12 }, (_, i) => i + 1); // 3 rows x 4 columns
  it.each([
    { dy: 0, dx: 0, expected: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
    { dy: 1, dx: 0, expected: [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8] },
    { dy: -1, dx: 2, expected: [0, 0, 5, 6, 0, 0, 9, 10, 0, 0, 0, 0] },
    { dy: 0, dx: -3, expected: [4, 0, 0, 0, 8, 0, 0, 0, 12, 0, 0, 0] },
    { dy: 3, dx: 0, expected: new Array(12).fill(0) },
  ])('shifts a 3x4 image by ($dy, $dx)', ({ dy, dx, expected }) => {
    const target = new Float32Array(12).fill(-1);
    translateSample(source, target, [3, 4, 1], dy, dx);
    expect(Array.from(target)).toEqual(expected);
  });

  it('moves every channel of a pixel together', () => {
    const rgb = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i + 1);
    const target = new Float32Array(12);
    translateSample(rgb, target, [2, 2, 3], 0, 1);
    expect(Array.from(target)).toEqual([0, 0, 0, 1, 2, 3, 0, 0, 0, 7, 8, 9]);
  });
});

describe('shiftOf', () => {
  it('depends only on seed and position, and covers [-maxShift, maxShift] on both axes', () => {
    const a = { maxShift: 2, seed: 7 };
    const seen = new Map<string, number>();
    for (let p = 0; p < 5000; p++) {
      const { dy, dx } = shiftOf(a, p);
      expect(shiftOf(a, p)).toEqual({ dy, dx });
      seen.set(`${dy},${dx}`, (seen.get(`${dy},${dx}`) ?? 0) + 1);
    }
    expect(seen.size).toBe(25);
    for (const n of seen.values()) expect(n).toBeGreaterThan(120); // 200 expected each
    const other = Array.from({ length: 50 }, (_, p) => shiftOf({ maxShift: 2, seed: 8 }, p));
    expect(other).not.toEqual(Array.from({ length: 50 }, (_, p) => shiftOf(a, p)));
  });
});
