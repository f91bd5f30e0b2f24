/**
 * Shannon entropy of a discrete distribution in nats, as
 * `scipy.stats.entropy(pk)` computes it: `pk` is normalised to sum to 1
 * first, and 0 log 0 counts as 0.
 */
import { StatisticInputError } from '../errors';

/** Entropy of one distribution (any non-negative weights, not all zero). */
export function entropy(pk: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < pk.length; i++) {
    if (!(pk[i] >= 0)) throw new StatisticInputError(`Expected \`pk\` to hold weights >= 0, got ${pk[i]}`);
    total += pk[i];
  }
  if (!(total > 0)) throw new StatisticInputError('Expected `pk` to have a positive sum');
  let h = 0;
  for (let i = 0; i < pk.length; i++) {
    const p = pk[i] / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

/** The entropy of each row of a row-major [rows, width] matrix of probabilities. */
export function rowEntropies(probabilities: Float32Array | Float64Array, width: number): Float64Array {
  const rows = probabilities.length / width;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) out[r] = entropy(probabilities.subarray(r * width, (r + 1) * width));
  return out;
}
