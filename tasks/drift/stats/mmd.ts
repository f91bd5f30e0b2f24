/**
 * Maximum mean discrepancy between two samples of vectors with a Gaussian
 * kernel, and a permutation p-value, as alibi-detect's MMDDrift computes
 * them: k(a, b) = exp(-|a - b|^2 / (2 sigma^2)); by default sigma comes from
 * the median heuristic on the reference-to-current squared distances
 * (`sigma_median`: sigma = sqrt(median / 2)); the unbiased MMD^2 (diagonal
 * left out). The p-value counts the random relabellings of the pooled
 * samples whose MMD^2 is at least the observed one, k of B, as
 * (k + 1) / (B + 1) (Phipson & Smyth 2010: the observed labelling is one of
 * the permutations) where alibi-detect reports k / B: that is never 0 and
 * holds its level exactly (with 100 permutations, p < 0.0125 happens with
 * probability 1/101 under no drift, not 2/101). The permutations come from a
 * seeded generator, so a check is reproducible.
 */
import { mulberry32, shuffledIndices } from '../../data/seeded-random';
import { StatisticInputError } from '../errors';

export interface MmdOptions {
  /** Kernel bandwidth; default: the median heuristic. */
  readonly sigma?: number;
  /** Default 100 (alibi-detect's n_permutations). */
  readonly permutations?: number;
  /** Seed of the permutations. Default 0. */
  readonly seed?: number;
}

export interface MmdResult {
  /** The unbiased MMD^2 estimate. */
  readonly statistic: number;
  readonly pValue: number;
  readonly sigma: number;
  readonly permutations: number;
}

function checkRows(values: Float32Array | Float64Array, dim: number, name: string): number {
  if (!Number.isInteger(dim) || dim < 1) throw new StatisticInputError(`Expected \`dim\` to be a positive integer, got ${dim}`);
  if (values.length % dim !== 0) throw new StatisticInputError(`Expected \`${name}\` to hold rows of ${dim} values, got ${values.length} values`);
  const rows = values.length / dim;
  if (rows < 2) throw new StatisticInputError(`Expected \`${name}\` to hold at least 2 rows, got ${rows}`);
  return rows;
}

/** Squared Euclidean distances between all rows of the pooled samples, row-major [N, N]. */
function pooledSquaredDistances(pooled: Float64Array, n: number, dim: number): Float64Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += pooled[i * dim + k] ** 2;
    norms[i] = s;
  }
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = i + 1; j < n; j++) {
      const oj = j * dim;
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += pooled[oi + k] * pooled[oj + k];
      const d = Math.max(norms[i] + norms[j] - 2 * dot, 0);
      dist[i * n + j] = d;
      dist[j * n + i] = d;
    }
  }
  return dist;
}

/** alibi-detect's sigma_median for x != y: sqrt(0.5 * the ((N*M)//2 - 1)-th smallest cross distance). */
function medianHeuristic(dist: Float64Array, total: number, m: number): number {
  const cross = new Float64Array(m * (total - m));
  let c = 0;
  for (let i = 0; i < m; i++) for (let j = m; j < total; j++) cross[c++] = dist[i * total + j];
  cross.sort();
  const median = cross[Math.floor(cross.length / 2) - 1];
  return Math.sqrt(0.5 * median);
}

/**
 * MMD^2 of the split given by `inFirst` (1: first sample, 0: second) over a
 * kernel matrix with zero diagonal; `rowTotals[i]` = sum of K[i][j] for j > i.
 */
function mmd2(kernel: Float64Array, total: number, inFirst: Float64Array, firstCount: number, rowTotals: Float64Array): number {
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < total; i++) {
    let dotFirst = 0;
    const row = i * total;
    for (let j = i + 1; j < total; j++) dotFirst += kernel[row + j] * inFirst[j];
    const dotSecond = rowTotals[i] - dotFirst;
    if (inFirst[i]) {
      xx += dotFirst;
      xy += dotSecond;
    } else {
      yy += dotSecond;
      xy += dotFirst;
    }
  }
  const m = firstCount;
  const n = total - m;
  return (2 * xx) / (m * (m - 1)) + (2 * yy) / (n * (n - 1)) - (2 * xy) / (m * n);
}

/** MMD test of `reference` (rows of `dim` values) against `current`. */
export function mmdTest(reference: Float32Array | Float64Array, current: Float32Array | Float64Array, dim: number, options: MmdOptions = {}): MmdResult {
  const m = checkRows(reference, dim, 'reference');
  const n = checkRows(current, dim, 'current');
  const permutations = options.permutations ?? 100;
  if (!Number.isInteger(permutations) || permutations < 1) throw new StatisticInputError(`Expected \`permutations\` to be a positive integer, got ${permutations}`);
  const total = m + n;
  const pooled = new Float64Array(total * dim);
  pooled.set(reference);
  pooled.set(current, m * dim);
  const dist = pooledSquaredDistances(pooled, total, dim);
  const sigma = options.sigma ?? medianHeuristic(dist, total, m);
  if (!(sigma > 0)) throw new StatisticInputError(`the kernel bandwidth is ${sigma}: the samples are identical points; pass \`sigma\``);
  const kernel = new Float64Array(total * total);
  const rowTotals = new Float64Array(total);
  const scale = 1 / (2 * sigma * sigma);
  for (let i = 0; i < total; i++) {
    let s = 0;
    for (let j = i + 1; j < total; j++) {
      const k = Math.exp(-dist[i * total + j] * scale);
      kernel[i * total + j] = k;
      kernel[j * total + i] = k;
      s += k;
    }
    rowTotals[i] = s;
  }
  const inFirst = new Float64Array(total);
  inFirst.fill(1, 0, m);
  const observed = mmd2(kernel, total, inFirst, m, rowTotals);
  const random = mulberry32(options.seed ?? 0);
  let atLeast = 0;
  for (let p = 0; p < permutations; p++) {
    const order = shuffledIndices(total, random);
    inFirst.fill(0);
    for (let i = 0; i < m; i++) inFirst[order[i]] = 1;
    if (mmd2(kernel, total, inFirst, m, rowTotals) >= observed) atLeast++;
  }
  return { statistic: observed, pValue: (atLeast + 1) / (permutations + 1), sigma, permutations };
}
