/**
 * The 1-D Wasserstein (earth mover's) distance between two samples, as
 * `scipy.stats.wasserstein_distance` computes it (the area between the two
 * empirical CDFs), and Evidently's normed variant: the distance divided by
 * the reference's standard deviation (population, at least 0.001), which
 * Evidently's `wasserstein` stat test compares with 0.1.
 */
import { StatisticInputError } from '../errors';

function sorted(values: ArrayLike<number>, name: string): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  if (out.length === 0) throw new StatisticInputError(`Expected \`${name}\` to hold at least one value, got none`);
  for (const v of out) if (!Number.isFinite(v)) throw new StatisticInputError(`Expected \`${name}\` to hold finite numbers, got ${v}`);
  return out.sort();
}

/** W1 between the empirical distributions of `u` and `v`. */
export function wassersteinDistance(u: ArrayLike<number>, v: ArrayLike<number>): number {
  const a = sorted(u, 'u');
  const b = sorted(v, 'v');
  let i = 0;
  let j = 0;
  let previous = Math.min(a[0], b[0]);
  let area = 0;
  // Sweep the merged values: between consecutive values the CDFs are constant.
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i] : b[j];
    area += Math.abs(i / a.length - j / b.length) * (next - previous);
    while (i < a.length && a[i] <= next) i++;
    while (j < b.length && b[j] <= next) j++;
    previous = next;
  }
  return area;
}

/** Population standard deviation (numpy's default, ddof 0). */
export function standardDeviation(values: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  return Math.sqrt(sq / values.length);
}

/** Evidently's normed Wasserstein distance: W1(reference, current) / max(std(reference), 0.001). */
export function normedWasserstein(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  return wassersteinDistance(reference, current) / Math.max(standardDeviation(reference), 0.001);
}
