/**
 * The drift checks: reference features against current ones, each test as
 * its anchor runs it, every default an option.
 *
 *   class-probabilities-ks  black-box shift detection (Rabanser et al.; alibi-detect's KSDrift on
 *                           model outputs): a KS test per class probability, Bonferroni over classes
 *   entropy-ks              KS test on the entropy of the predicted distribution
 *   predicted-class-chi2    chi-squared test on the predicted-class counts (2 x k table, as ChiSquareDrift)
 *   embedding-mmd           MMD with a Gaussian kernel (median heuristic) on penultimate-layer
 *                           embeddings, permutation p-value (alibi-detect's MMDDrift)
 *   image-statistics        Evidently's column rules on mean intensity, ink fraction and centre of
 *                           mass: KS (p 0.05) when the reference has at most 1,000 rows, else normed
 *                           Wasserstein >= 0.1; drift when the share of drifted columns >= 0.5
 *
 * The window drifts when any *decisive* test does: by default the four
 * p-value tests, whose false-alarm rate the level controls. So that running
 * several of them does not multiply false alarms, they are held to
 * alpha / (number of p-value tests) (`combine: 'bonferroni'`); `combine:
 * 'each'` holds each to alpha, as the anchors do when run alone. Evidently's
 * image-statistics rule is reported with its own verdict but is advisory by
 * default: with a reference above 1,000 rows it compares normed Wasserstein
 * distances with 0.1 whatever the window's size, and a window of 100 MNIST
 * test images crosses that by sampling noise alone in most windows
 * (measured: 77 of 100). `decisive: DRIFT_TESTS` makes it count.
 */
import { mulberry32, shuffledIndices } from '../data/seeded-random';
import { bonferroni } from './stats/bonferroni';
import { chiSquareTwoSample } from './stats/chi-squared';
import { rowEntropies } from './stats/entropy';
import { ks2Samp } from './stats/ks';
import { mmdTest } from './stats/mmd';
import { normedWasserstein } from './stats/wasserstein';
import { type DriftFeatures, IMAGE_STATISTICS, pickFeatures } from './features';
import { DriftDataError } from './errors';

export const DRIFT_TESTS = ['class-probabilities-ks', 'entropy-ks', 'predicted-class-chi2', 'embedding-mmd', 'image-statistics'] as const;
export type DriftTestName = (typeof DRIFT_TESTS)[number];

export interface DriftCheckOptions {
  /** Significance level of the p-value tests. Default 0.05. */
  readonly pValue?: number;
  /** How the p-value tests share `pValue`: 'bonferroni' (default: alpha / tests each) or 'each' (alpha each). */
  readonly combine?: 'bonferroni' | 'each';
  /** MMD permutations. Default 100. */
  readonly permutations?: number;
  /** MMD uses at most this many reference rows (a seeded sample; its cost grows with the square of the rows). Default 300. */
  readonly mmdReferenceSize?: number;
  /** ...and at most this many current rows. Default 300. */
  readonly mmdCurrentSize?: number;
  /** Seed of the MMD samples and permutations. Default 0. */
  readonly seed?: number;
  /** Image statistics: Evidently's rule by reference size ('auto', default), or always 'ks' or 'wasserstein'. */
  readonly imageStatTest?: 'auto' | 'ks' | 'wasserstein';
  /** Reference rows up to which 'auto' uses KS. Default 1,000 (Evidently). */
  readonly ksMaxReferenceRows?: number;
  /** Normed Wasserstein distance at which a column drifts. Default 0.1 (Evidently). */
  readonly wassersteinThreshold?: number;
  /** Share of drifted image-statistic columns at which that test drifts. Default 0.5 (Evidently). */
  readonly driftShare?: number;
  /** The tests to run. Default: all. */
  readonly tests?: readonly DriftTestName[];
  /** The tests whose verdict decides the window's. Default: the p-value tests. */
  readonly decisive?: readonly DriftTestName[];
}

export interface ColumnResult {
  readonly name: string;
  readonly test: 'ks' | 'wasserstein';
  readonly statistic: number;
  readonly pValue?: number;
  readonly threshold: number;
  readonly drift: boolean;
}

export interface DriftTestResult {
  readonly name: DriftTestName;
  readonly statistic: number;
  readonly pValue?: number;
  /** pValue below it (or, for image-statistics, the drifted share at or above it) is drift. */
  readonly threshold: number;
  readonly drift: boolean;
  /** Whether this test's verdict counts for the window's (see `decisive`). */
  readonly decisive?: boolean;
  /** Per-class or per-column results, bandwidth, degrees of freedom: what the test adds. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface DriftResult {
  readonly drift: boolean;
  readonly tests: DriftTestResult[];
  readonly referenceCount: number;
  readonly currentCount: number;
  readonly options: ResolvedOptions & { tests: DriftTestName[]; decisive: DriftTestName[] };
  /** Tests asked for but not run, and why (embedding-mmd on a model without an embedding output). */
  readonly skipped: { readonly name: DriftTestName; readonly reason: string }[];
}

type ResolvedOptions = Required<Omit<DriftCheckOptions, 'tests' | 'decisive'>>;

/** The tests that decide a window's verdict unless told otherwise. */
export const DEFAULT_DECISIVE: readonly DriftTestName[] = ['class-probabilities-ks', 'entropy-ks', 'predicted-class-chi2', 'embedding-mmd'];

const DEFAULTS: ResolvedOptions = {
  pValue: 0.05,
  combine: 'bonferroni',
  permutations: 100,
  mmdReferenceSize: 300,
  mmdCurrentSize: 300,
  seed: 0,
  imageStatTest: 'auto',
  ksMaxReferenceRows: 1000,
  wassersteinThreshold: 0.1,
  driftShare: 0.5,
};

function column(values: Float32Array, width: number, index: number): Float64Array {
  const rows = values.length / width;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) out[r] = values[r * width + index];
  return out;
}

/** The predicted class (argmax) counts of a [count, classes] probability matrix. */
export function predictedCounts(f: DriftFeatures): number[] {
  const counts = new Array<number>(f.classes).fill(0);
  for (let r = 0; r < f.count; r++) {
    let best = 0;
    for (let c = 1; c < f.classes; c++) if (f.probabilities[r * f.classes + c] > f.probabilities[r * f.classes + best]) best = c;
    counts[best]++;
  }
  return counts;
}

function subsample(f: DriftFeatures, size: number, seed: number): DriftFeatures {
  if (f.count <= size) return f;
  return pickFeatures(f, shuffledIndices(f.count, mulberry32(seed)).subarray(0, size));
}

function classProbabilitiesKs(ref: DriftFeatures, cur: DriftFeatures, threshold: number): DriftTestResult {
  const perClass = Array.from({ length: ref.classes }, (_, c) => ks2Samp(column(ref.probabilities, ref.classes, c), column(cur.probabilities, cur.classes, c)));
  const family = bonferroni(perClass.map((r) => r.pValue), threshold);
  return {
    name: 'class-probabilities-ks',
    statistic: Math.max(...perClass.map((r) => r.statistic)),
    pValue: family.pValue,
    threshold,
    drift: family.reject,
    details: { correction: 'bonferroni', perClass: perClass.map((r, c) => ({ class: c, statistic: r.statistic, pValue: r.pValue })) },
  };
}

function imageStatisticsTest(ref: DriftFeatures, cur: DriftFeatures, o: ResolvedOptions): DriftTestResult {
  const useKs = o.imageStatTest === 'ks' || (o.imageStatTest === 'auto' && ref.count <= o.ksMaxReferenceRows);
  const width = IMAGE_STATISTICS.length;
  const columns: ColumnResult[] = IMAGE_STATISTICS.map((name, i) => {
    const r = column(ref.imageStats, width, i);
    const c = column(cur.imageStats, width, i);
    if (useKs) {
      const ks = ks2Samp(r, c);
      return { name, test: 'ks', statistic: ks.statistic, pValue: ks.pValue, threshold: o.pValue, drift: ks.pValue <= o.pValue };
    }
    const w = normedWasserstein(r, c);
    return { name, test: 'wasserstein', statistic: w, threshold: o.wassersteinThreshold, drift: w >= o.wassersteinThreshold };
  });
  const share = columns.filter((c) => c.drift).length / columns.length;
  return { name: 'image-statistics', statistic: share, threshold: o.driftShare, drift: share >= o.driftShare, details: { columns } };
}

/** Runs the checks of `current` against `reference` (see the module comment). */
export function runDriftChecks(reference: DriftFeatures, current: DriftFeatures, options: DriftCheckOptions = {}): DriftResult {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as ResolvedOptions;
  const asked = [...(options.tests ?? DRIFT_TESTS)];
  // A model whose signature names no embedding output has none to compare.
  const skipped = reference.embeddingDim === 0 && asked.includes('embedding-mmd') ? [{ name: 'embedding-mmd' as const, reason: "the model's signature names no embedding output" }] : [];
  const tests = asked.filter((t) => !skipped.some((s) => s.name === t));
  if (reference.count < 2 || current.count < 2) throw new DriftDataError(`drift checks need at least 2 reference and 2 current images, got ${reference.count} and ${current.count}`);
  if (reference.classes !== current.classes || reference.embeddingDim !== current.embeddingDim) {
    throw new DriftDataError(`reference and current come from different models: ${reference.classes} vs ${current.classes} classes, embeddings of ${reference.embeddingDim} vs ${current.embeddingDim}`);
  }
  const pTests = tests.filter((t) => t !== 'image-statistics').length;
  const threshold = o.combine === 'bonferroni' && pTests > 0 ? o.pValue / pTests : o.pValue;
  const results: DriftTestResult[] = [];
  for (const name of tests) {
    if (name === 'class-probabilities-ks') results.push(classProbabilitiesKs(reference, current, threshold));
    if (name === 'entropy-ks') {
      const ks = ks2Samp(rowEntropies(reference.probabilities, reference.classes), rowEntropies(current.probabilities, current.classes));
      results.push({ name, statistic: ks.statistic, pValue: ks.pValue, threshold, drift: ks.pValue < threshold });
    }
    if (name === 'predicted-class-chi2') {
      const [refCounts, curCounts] = [predictedCounts(reference), predictedCounts(current)];
      const chi = chiSquareTwoSample(refCounts, curCounts);
      results.push({ name, statistic: chi.statistic, pValue: chi.pValue, threshold, drift: chi.pValue < threshold, details: { dof: chi.dof, reference: refCounts, current: curCounts } });
    }
    if (name === 'embedding-mmd') {
      const ref = subsample(reference, o.mmdReferenceSize, o.seed + 1);
      const cur = subsample(current, o.mmdCurrentSize, o.seed + 2);
      const mmd = mmdTest(ref.embeddings, cur.embeddings, reference.embeddingDim, { permutations: o.permutations, seed: o.seed });
      results.push({ name, statistic: mmd.statistic, pValue: mmd.pValue, threshold, drift: mmd.pValue < threshold, details: { sigma: mmd.sigma, permutations: o.permutations, referenceRows: ref.count, currentRows: cur.count } });
    }
    if (name === 'image-statistics') results.push(imageStatisticsTest(reference, current, o));
  }
  const decisive = [...(options.decisive ?? DEFAULT_DECISIVE)];
  const marked = results.map((r) => ({ ...r, decisive: decisive.includes(r.name) }));
  return { drift: marked.some((r) => r.decisive && r.drift), tests: marked, referenceCount: reference.count, currentCount: current.count, options: { ...o, tests, decisive }, skipped };
}
