/**
 * The two-sample Kolmogorov-Smirnov test as SciPy's `scipy.stats.ks_2samp`
 * computes it (SciPy 1.17): the statistic from the two empirical CDFs
 * (ties handled as `searchsorted(side='right')` does), and with
 * `method: 'auto'` the exact p-value when both samples have at most 10,000
 * values (Hodges' lattice-path counts; the two-sided one by Viehmann's
 * "outer probability" recursion), else Smirnov's asymptotic formula (the
 * one-sample distribution `kstwo` at n = round(m n / (m + n))).
 */
import { kolmogorovSurvival } from './kolmogorov';
import { logBinomial } from './special';
import { StatisticInputError } from '../errors';

export type KsAlternative = 'two-sided' | 'less' | 'greater';
export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsResult {
  readonly statistic: number;
  readonly pValue: number;
  /** The method the p-value came from ('exact' may fall back to 'asymp' as SciPy's does). */
  readonly method: 'exact' | 'asymp';
  /** Where the ECDFs are furthest apart, and whether the first sample's ECDF is above (+1) or below (-1). */
  readonly location: number;
  readonly sign: 1 | -1;
}

export interface KsOptions {
  readonly alternative?: KsAlternative;
  readonly method?: KsMethod;
}

const MAX_AUTO_N = 10_000;

function sortedCopy(values: ArrayLike<number>, name: string): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  if (out.length === 0) throw new StatisticInputError(`Expected \`${name}\` to hold at least one value, got none`);
  for (const v of out) if (Number.isNaN(v)) throw new StatisticInputError(`Expected \`${name}\` to hold numbers, got NaN`);
  return out.sort();
}

/** Largest differences of the ECDFs: max(F1 - F2) and max(F2 - F1), with where they are. */
function ecdfDifferences(a: Float64Array, b: Float64Array) {
  let i = 0;
  let j = 0;
  let maxS = -Infinity;
  let minS = Infinity;
  let locMax = 0;
  let locMin = 0;
  // Walk the merged values; at each distinct value both ECDFs count everything <= it (searchsorted right).
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i] : b[j];
    while (i < a.length && a[i] <= v) i++;
    while (j < b.length && b[j] <= v) j++;
    const diff = i / a.length - j / b.length;
    if (diff > maxS) [maxS, locMax] = [diff, v];
    if (diff < minS) [minS, locMin] = [diff, v];
  }
  return { maxS, locMax, minS: Math.min(Math.max(-minS, 0), 1), locMin };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Pr(D_{n,n} >= h/n), two-sided, for equal sample sizes (Horner-like evaluation of the alternating sum). */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/** The share of lattice paths from (0,0) to (m,n) that leave |x/m - y/n| < h/lcm (Viehmann's recursion for 1 - p). */
function outerProbInside(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m];
  const mg = Math.floor(m / g);
  const ng = Math.floor(n / g);
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1];
}

/** Lattice paths that go below the diagonal by h (one-sided), as a count (may overflow to Infinity). */
function countPathsOutside(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m];
  const mg = Math.floor(m / g);
  const ng = Math.floor(n / g);
  const lxj = n + Math.floor((mg - h) / mg);
  const binom = (a: number, b: number) => Math.exp(logBinomial(a, b));
  if (lxj <= 0) return binom(m + n, n);
  const xj = Array.from({ length: lxj }, (_, j) => Math.floor((h + mg * j + ng - 1) / ng));
  const B = new Float64Array(lxj);
  B[0] = 1;
  for (let j = 1; j < lxj; j++) {
    let bj = binom(xj[j] + j, j);
    for (let i = 0; i < j; i++) bj -= binom(xj[j] - xj[i] + j - i, j - i) * B[i];
    B[j] = bj;
  }
  let paths = 0;
  for (let j = 0; j < lxj; j++) paths += B[j] * binom(m - xj[j] + (n - j), n - j);
  return paths;
}

/** SciPy's `_attempt_exact_2kssamp`: the exact p-value, or undefined when it cannot be computed in floating point. */
function exactPValue(n1: number, n2: number, g: number, d: number, alternative: KsAlternative): { d: number; p?: number } {
  const lcm = (n1 / g) * n2;
  const h = Math.round(d * lcm);
  const dq = h / lcm;
  if (h === 0) return { d: dq, p: 1 };
  let p: number;
  if (alternative === 'two-sided') {
    p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  } else if (n1 === n2) {
    p = 1;
    for (let j = 0; j < h; j++) p *= (n1 - j) / (n1 + j + 1);
  } else {
    const paths = countPathsOutside(n1, n2, g, h);
    const all = Math.exp(logBinomial(n1 + n2, n1));
    if (!Number.isFinite(paths) || !Number.isFinite(all) || paths > all) return { d: dq };
    p = paths / all;
  }
  return Number.isFinite(p) && p >= 0 && p <= 1 ? { d: dq, p } : { d: dq };
}

function asymptoticPValue(n1: number, n2: number, d: number, alternative: KsAlternative): number {
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = (m * n) / (m + n);
  if (alternative === 'two-sided') return kolmogorovSurvival(Math.round(en), d);
  const z = Math.sqrt(en) * d;
  // Hodges' approximation, eq. 5.3 (m the larger sample).
  return Math.exp(-2 * z * z - (2 * z * (m + 2 * n)) / Math.sqrt(m * n * (m + n)) / 3);
}

/** Two-sample KS test of `x` against `y` (see the module comment). */
export function ks2Samp(x: ArrayLike<number>, y: ArrayLike<number>, options: KsOptions = {}): KsResult {
  const { alternative = 'two-sided', method = 'auto' } = options;
  const a = sortedCopy(x, 'x');
  const b = sortedCopy(y, 'y');
  const { maxS, locMax, minS, locMin } = ecdfDifferences(a, b);
  const useMin = alternative === 'less' || (alternative === 'two-sided' && minS > maxS);
  let d = useMin ? minS : maxS;
  const location = useMin ? locMin : locMax;
  const sign: 1 | -1 = useMin ? -1 : 1;
  const [n1, n2] = [a.length, b.length];
  const g = gcd(n1, n2);
  let mode: 'exact' | 'asymp' = method === 'auto' ? (Math.max(n1, n2) <= MAX_AUTO_N ? 'exact' : 'asymp') : method;
  if (mode === 'exact' && n1 / g >= 2147483647 / (n2 / g)) mode = 'asymp';
  let p = Number.NaN;
  if (mode === 'exact') {
    const exact = exactPValue(n1, n2, g, d, alternative);
    d = exact.d;
    if (exact.p === undefined) mode = 'asymp';
    else p = exact.p;
  }
  if (mode === 'asymp') p = asymptoticPValue(n1, n2, d, alternative);
  return { statistic: d, pValue: Math.min(Math.max(p, 0), 1), method: mode, location, sign };
}
