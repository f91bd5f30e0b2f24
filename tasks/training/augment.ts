/**
 * Data augmentation for image samples ([height, width, channels], row-major):
 * each sample of a batch is translated by a random whole number of pixels
 * (up to `maxShift` in each direction, zeros shifted in), as a digit
 * written a little off-centre. The shift of a sample depends only on the
 * seed and the sample's position in training (epoch and place in the
 * epoch's order), so runs are reproducible and do not depend on the number
 * of worker threads. Costs a copy per sample, as gathering a batch does.
 */

export interface Augmentation {
  /** Largest translation in pixels, each axis (0: none). */
  maxShift: number;
  seed: number;
}

/** A 32-bit mix of (seed, position) (the murmur3 finaliser): independent-looking values for neighbouring positions. */
export function mix32(seed: number, position: number): number {
  let h = (seed ^ Math.imul(position, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Writes `source` translated by (dy, dx) into `target` (both one sample of
 * shape [height, width, channels]): target[y][x] = source[y - dy][x - dx], 0 outside.
 */
export function translateSample(
  source: Float32Array,
  target: Float32Array,
  shape: readonly number[],
  dy: number,
  dx: number,
): void {
  const [height, width, channels = 1] = shape;
  const row = width * channels;
  target.fill(0);
  const x0 = Math.max(0, dx);
  const x1 = Math.min(width, width + dx);
  if (x1 <= x0) return;
  for (let y = Math.max(0, dy); y < Math.min(height, height + dy); y++) {
    const from = (y - dy) * row + (x0 - dx) * channels;
    target.set(source.subarray(from, from + (x1 - x0) * channels), y * row + x0 * channels);
  }
}

/** The translation of the sample at training position `position`: each axis uniform in [-maxShift, maxShift]. */
export function shiftOf(augmentation: Augmentation, position: number): { dy: number; dx: number } {
  const span = 2 * augmentation.maxShift + 1;
  const bits = mix32(augmentation.seed, position);
  return { dy: (bits % span) - augmentation.maxShift, dx: (Math.floor(bits / span) % span) - augmentation.maxShift };
}
