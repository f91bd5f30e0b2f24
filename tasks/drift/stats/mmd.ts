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

/** Rows are handled this many at a time when pairing (see pooledSquaredDistances). */
const ROW_BLOCK = 4;

/**
 * Squared Euclidean distances between all rows of the pooled samples, row-major [N, N], the upper
 * triangle only (i < j: all that the kernel and the median read). `pooled` holds
 * N rows padded with zero rows to a multiple of ROW_BLOCK: each row j is read once for a block of
 * ROW_BLOCK rows i (four dot products, one load of j's values for four multiply-adds), where reading
 * both rows for every pair made the loads the check's slowest loop.
 */
function pooledSquaredDistances(pooled: Float64Array, n: number, dim: number): Float64Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let k = i * dim; k < (i + 1) * dim; k++) norms[i] += pooled[k] * pooled[k];
  const dist = new Float64Array(n * n);
  const dots = new Float64Array(ROW_BLOCK);
  for (let i = 0; i < n; i += ROW_BLOCK) {
    for (let j = i + 1; j < n; j++) {
      blockDots(pooled, i * dim, j * dim, dim, dots);
      for (let r = 0; r < ROW_BLOCK && i + r < j; r++) {
        dist[(i + r) * n + j] = Math.max(norms[i + r] + norms[j] - 2 * dots[r], 0);
      }
    }
  }
  return dist;
}

/** The dot products of the ROW_BLOCK rows from offset `a` with the row at offset `b`, into `out`. */
function blockDots(values: Float64Array, a: number, b: number, dim: number, out: Float64Array): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = 0; k < dim; k++) {
    const v = values[b + k];
    s0 += values[a + k] * v;
    s1 += values[a + dim + k] * v;
    s2 += values[a + 2 * dim + k] * v;
    s3 += values[a + 3 * dim + k] * v;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/** alibi-detect's sigma_median for x != y: sqrt(0.5 * the ((N*M)//2 - 1)-th smallest cross distance). */
function medianHeuristic(dist: Float64Array, total: number, m: number): number {
  const cross = new Float64Array(m * (total - m));
  let c = 0;
  for (let i = 0; i < m; i++) for (let j = m; j < total; j++) cross[c++] = dist[i * total + j];
  return Math.sqrt(0.5 * kthSmallest(cross, Math.floor(cross.length / 2) - 1));
}

/** The k-th smallest value (0-based) of `values`, which it reorders: Hoare's selection, linear on average where sorting was the median's cost. */
function kthSmallest(values: Float64Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i++] = values[j];
        values[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

/** Sum of K[i][j] over the pairs i < j of `members` (ascending indices) in a kernel matrix of `total` columns. */
function pairSum(kernel: Float64Array, total: number, members: Int32Array): number {
  let sum = 0;
  for (let a = 0; a < members.length; a++) {
    const row = members[a] * total;
    for (let b = a + 1; b < members.length; b++) sum += kernel[row + members[b]];
  }
  return sum;
}

/**
 * MMD^2 of the split of `order` into its first `m` indices (the first sample) and the rest. Only the
 * first sample's own pairs are summed: with `rowSums` (each row of K, diagonal left out) and `pairTotal`
 * (K over all pairs), the cross pairs are the first sample's row sums less twice its own pairs, and the
 * second sample's pairs are what remains.
 */
function mmd2(kernel: Float64Array, total: number, order: Int32Array, m: number, rowSums: Float64Array, pairTotal: number): number {
  const first = order.slice(0, m).sort();
  let rows = 0;
  for (let a = 0; a < m; a++) rows += rowSums[first[a]];
  const xx = pairSum(kernel, total, first);
  const xy = rows - 2 * xx;
  const yy = pairTotal - xx - xy;
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
  const pooled = new Float64Array(Math.ceil(total / ROW_BLOCK) * ROW_BLOCK * dim);
  pooled.set(reference);
  pooled.set(current, m * dim);
  const dist = pooledSquaredDistances(pooled, total, dim);
  const sigma = options.sigma ?? medianHeuristic(dist, total, m);
  if (!(sigma > 0)) throw new StatisticInputError(`the kernel bandwidth is ${sigma}: the samples are identical points; pass \`sigma\``);
  const kernel = new Float64Array(total * total);
  const scale = 1 / (2 * sigma * sigma);
  const rowSums = new Float64Array(total);
  let pairTotal = 0;
  for (let i = 0; i < total; i++) {
    for (let j = i + 1; j < total; j++) {
      // The upper triangle only: pairSum reads K[i][j] with i < j.
      const k = Math.exp(-dist[i * total + j] * scale);
      kernel[i * total + j] = k;
      rowSums[i] += k;
      rowSums[j] += k;
      pairTotal += k;
    }
  }
  const observed = mmd2(kernel, total, Int32Array.from({ length: total }, (_, i) => i), m, rowSums, pairTotal);
  const random = mulberry32(options.seed ?? 0);
  let atLeast = 0;
  for (let p = 0; p < permutations; p++) if (mmd2(kernel, total, shuffledIndices(total, random), m, rowSums, pairTotal) >= observed) atLeast++;
  return { statistic: observed, pValue: (atLeast + 1) / (permutations + 1), sigma, permutations };
}
