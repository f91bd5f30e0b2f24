/**
 * The survival function of the one-sample two-sided Kolmogorov-Smirnov
 * statistic D_n, P(D_n >= x): SciPy's `kstwo.sf(x, n)`, which the
 * two-sample test uses for its asymptotic p-value. The choice of method
 * follows Simard & L'Ecuyer (2011) as `scipy.stats._ksstats._kolmogn` makes
 * it: Ruben-Gambino at the ends, 2 x the exact one-sided Smirnov tail where
 * the two tails cannot overlap, the Durbin matrix (Marsaglia-Tsang-Wang) for
 * small n x, Pelz-Good for the rest. Where SciPy uses Pomeranz's recursion
 * (n <= 140, 0.754693 < n x^2 <= 4) this uses the Durbin matrix, which is
 * also exact.
 */
import { logBinomial, logGamma } from './special';
import { StatisticInputError } from '../errors';

const SCALE = 2 ** 128;
const SQRT2PI = Math.sqrt(2 * Math.PI);
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;

/** P(D_n+ >= x): the exact one-sided tail (Birnbaum-Tingey), summed in logs. */
export function smirnovSurvival(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const logs: number[] = [];
  const last = Math.floor(n * (1 - x));
  for (let j = 0; j <= last; j++) {
    const below = 1 - x - j / n;
    if (below <= 0 && n - j > 0) continue;
    const lowerPart = n - j === 0 ? 0 : (n - j) * Math.log(below);
    logs.push(logBinomial(n, j) + lowerPart + (j - 1) * Math.log(x + j / n));
  }
  const top = Math.max(...logs);
  const sum = logs.reduce((s, l) => s + Math.exp(l - top), 0);
  return Math.min(1, x * Math.exp(top) * sum);
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += aik * b[k * m + j];
    }
  }
  return out;
}

/** P(D_n <= d) by the Durbin matrix, computed as Marsaglia, Tsang and Wang (2003) do. */
function durbinCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  v[m - 1] = (1 + Math.max(2 * h - 1, 0) ** m - 2 * h ** m) * fac;
  let H: Float64Array = new Float64Array(m * m);
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - i + 1];
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];

  let power: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) power[i * m + i] = 1;
  let exponent = 0;
  let hExponent = 0;
  for (let nn = n; nn > 0; nn = Math.floor(nn / 2)) {
    if (nn % 2) {
      power = matmul(power, H, m);
      exponent += hExponent;
    }
    H = matmul(H, H, m);
    hExponent *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]) > SCALE) {
      for (let i = 0; i < H.length; i++) H[i] /= SCALE;
      hExponent += 128;
    }
  }
  let p = power[(k - 1) * m + (k - 1)];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < 1 / SCALE) {
      p *= SCALE;
      exponent -= 128;
    }
  }
  return p * 2 ** exponent;
}

/** P(D_n >= x) by the Pelz-Good expansion (suited to small x sqrt(n)). */
function pelzGoodSurvival(n: number, x: number): number {
  const z = Math.sqrt(n) * x;
  const [z2, z3, z4, z6] = [z ** 2, z ** 3, z ** 4, z ** 6];
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 1;
  let q = Math.exp(qlog);
  const [k1a, k1b] = [-z2, PI2 / 4];
  const [k2a, k2b, k2c] = [6 * z6 + 2 * z4, ((2 * z4 - 5 * z2) * PI2) / 4, (PI4 * (1 - 2 * z2)) / 16];
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const [m2, m4, m6] = [m ** 2, m ** 4, m ** 6];
    const qpower = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qpower + coeffs[i];
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / divisors[i];
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const sqrt3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const qp = q ** (k * k);
    k2extra += k * k * qp;
    k3extra += (sqrt3z + Math.PI * k) * (sqrt3z - Math.PI * k) * k * k * qp;
  }
  K[2] += (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K[3] += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  for (let i = 0; i < 4; i++) K[i] /= n ** (i / 2);
  return 1 - K[0] - K[1] - K[2] - K[3];
}

function clip(p: number): number {
  return Math.min(Math.max(p, 0), 1);
}

/** P(D_n >= x) for the one-sample two-sided KS statistic (SciPy's kstwo.sf(x, n)). */
export function kolmogorovSurvival(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0) throw new StatisticInputError(`Expected \`n\` to be a positive integer, got ${n}`);
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    const logCdf = logGamma(n + 1) - n * Math.log(n) + n * Math.log(2 * t - 1);
    return clip(1 - Math.exp(logCdf));
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n);
  if (x >= 0.5) return clip(2 * smirnovSurvival(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4) return clip(1 - durbinCdf(n, x));
    return clip(2 * smirnovSurvival(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnovSurvival(n, x));
  if (n <= 100_000 && n * x ** 1.5 <= 1.4) return clip(1 - durbinCdf(n, x));
  return clip(pelzGoodSurvival(n, x));
}
