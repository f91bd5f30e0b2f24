/**
 * The drift statistics against SciPy. Reference values were computed ONCE with
 * SciPy 1.17.1 / NumPy 2.4.6 (Python 3.11) on the inputs written here
 * (`seq` below is the same formula in both languages), with
 * scipy.stats.ks_2samp(x, y, alternative, method), scipy.stats.kstwo.sf(x, n),
 * scipy.stats.chi2.sf, scipy.stats.chi2_contingency (default correction=True),
 * scipy.stats.chisquare, scipy.stats.wasserstein_distance (normed: divided by
 * max(np.std(reference), 0.001) as Evidently does), scipy.stats.entropy, and for
 * MMD NumPy with scipy.spatial.distance.cdist following alibi-detect's
 * sigma_median, GaussianRBF and mmd2_from_kernel_matrix. The tests need no Python.
 */
import { describe, expect, it } from 'vitest';
import { bonferroni } from '../tasks/drift/stats/bonferroni';
import { chiSquareContingency, chiSquareGoodnessOfFit, chiSquareTwoSample } from '../tasks/drift/stats/chi-squared';
import { entropy, rowEntropies } from '../tasks/drift/stats/entropy';
import { kolmogorovSurvival } from '../tasks/drift/stats/kolmogorov';
import { ks2Samp, type KsAlternative, type KsMethod } from '../tasks/drift/stats/ks';
import { mmdTest } from '../tasks/drift/stats/mmd';
import { chiSquaredSurvival } from '../tasks/drift/stats/special';
import { normedWasserstein, wassersteinDistance } from '../tasks/drift/stats/wasserstein';

/** ((i * mult) % mod + shift) / scale for i = 0..n-1: exact in both JavaScript and Python. */
function seq(n: number, mult: number, mod: number, shift: number, scale: number): number[] {
  return Array.from({ length: n }, (_, i) => (((i * mult) % mod) + shift) / scale);
}

/** |actual - expected| within `rel` of expected (or `abs` for values near 0). */
function close(actual: number, expected: number, rel = 1e-9, abs = 1e-14): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.max(rel * Math.abs(expected), abs));
}

describe('ks2Samp matches scipy.stats.ks_2samp', () => {
  const cases: [string, number[], number[], KsAlternative, KsMethod, number, number][] = [
    ['equal8', seq(8, 3, 11, 0, 10), seq(8, 5, 13, 2, 10), 'two-sided', 'auto', 0.375, 0.6601398601398599],
    ['n40_n25', seq(40, 7, 37, 0, 10), seq(25, 11, 29, 4, 10), 'two-sided', 'auto', 0.125, 0.9436337516874128],
    ['ties', seq(60, 7, 6, 0, 1), seq(45, 5, 7, 0, 1), 'two-sided', 'auto', 0.13333333333333333, 0.7082839496673912],
    ['less_n30_n20', seq(30, 7, 31, 0, 10), seq(20, 3, 23, 3, 10), 'less', 'auto', 0.16666666666666666, 0.48011727110628527],
    ['greater_n30_n20', seq(30, 7, 31, 0, 10), seq(20, 3, 23, 3, 10), 'greater', 'auto', 0.1, 0.7589441097929241],
    ['greater_equal15', seq(15, 7, 17, 0, 10), seq(15, 3, 19, 2, 10), 'greater', 'auto', 0.2, 0.5575980392156862],
    ['n3000_n100', seq(3000, 7919, 1009, 0, 100), seq(100, 613, 997, 60, 100), 'two-sided', 'auto', 0.07833333333333334, 0.5674666678661363],
    ['n3000_n100_shift', seq(3000, 7919, 1009, 0, 100), seq(100, 613, 997, 150, 100), 'two-sided', 'auto', 0.16766666666666666, 0.007644603590292177],
    ['n3000_n1000_shift', seq(3000, 7919, 1009, 0, 100), seq(1000, 613, 1013, 40, 100), 'two-sided', 'auto', 0.043333333333333335, 0.11786538205820607],
    ['n3000_n1000_same', seq(3000, 7919, 1009, 0, 100), seq(1000, 613, 1013, 0, 100), 'two-sided', 'auto', 0.004, 1.0],
    ['asymp_n12000_n300_small', seq(12000, 7919, 10007, 0, 100), seq(300, 613, 9973, 150, 100), 'two-sided', 'auto', 0.015416666666666665, 0.9999994195477245],
    ['asymp_n12000_n300_mid', seq(12000, 7919, 10007, 0, 100), seq(300, 613, 9973, 500, 100), 'two-sided', 'auto', 0.050416666666666665, 0.43169473316484364],
    ['asymp_n12000_n300_large', seq(12000, 7919, 10007, 0, 100), seq(300, 613, 9973, 1500, 100), 'two-sided', 'auto', 0.15025000000000002, 3.070424232418989e-06],
    ['asymp_forced_n100', seq(100, 7, 101, 0, 10), seq(100, 13, 103, 10, 10), 'two-sided', 'asymp', 0.12, 0.4337679661310233],
    ['asymp_less_n12000_n300', seq(12000, 7919, 10007, 0, 100), seq(300, 613, 9973, 500, 100), 'less', 'auto', -0.0, 1.0],
  ];
  it.each(cases)('%s', (_name, x, y, alternative, method, statistic, pValue) => {
    const result = ks2Samp(x, y, { alternative, method });
    close(result.statistic, Math.abs(statistic));
    // Exact paths agree to ~1e-12; the asymptotic ones (other summation orders) to 1e-7.
    close(result.pValue, pValue, result.method === 'exact' ? 1e-9 : 1e-7, 1e-15);
  });

  it('uses the exact p-value up to 10,000 values per sample and the asymptotic one above', () => {
    expect(ks2Samp(seq(3000, 7919, 1009, 0, 100), seq(100, 613, 997, 60, 100)).method).toBe('exact');
    expect(ks2Samp(seq(12000, 7919, 10007, 0, 100), seq(300, 613, 9973, 150, 100)).method).toBe('asymp');
  });

  it('refuses empty samples and NaN, naming the argument', () => {
    expect(() => ks2Samp([], [1])).toThrow(/`x` to hold at least one value/);
    expect(() => ks2Samp([1], [Number.NaN])).toThrow(/`y` to hold numbers, got NaN/);
  });
});

describe('kolmogorovSurvival matches scipy.stats.kstwo.sf in every branch', () => {
  const cases: [number, number, number][] = [
    [10, 0.05, 1.0],
    [10, 0.08, 0.9999978058034054],
    [10, 0.95, 1.9531250000000172e-13],
    [20, 0.6, 2.0483011649719853e-07],
    [100, 0.05, 0.9532159710635725],
    [100, 0.15, 0.019839242125641813],
    [100, 0.3, 1.7719869892662917e-08],
    [1000, 0.01, 0.9999496745370611],
    [1000, 0.03, 0.3226902143914636],
    [1000, 0.06, 0.001428597887952891],
    [293, 0.02, 0.9996725299224284],
    [293, 0.05, 0.4421809601000565],
    [293, 0.1, 0.00528794011372886],
    [200000, 0.002, 0.39995085369038097],
  ];
  it.each(cases)('n=%d x=%d', (n, x, p) => close(kolmogorovSurvival(n, x), p, 1e-8, 1e-16));
});

describe('chi-squared', () => {
  const sf: [number, number, number][] = [
    [3.0, 1, 0.08326451666355042],
    [12.5, 9, 0.18656597485845106],
    [150.0, 9, 8.819629954805395e-28],
    [0.4, 2, 0.8187307530779818],
    [40.0, 30, 0.10486428110798468],
  ];
  it.each(sf)('chi2.sf(%d, %d)', (x, dof, p) => close(chiSquaredSurvival(x, dof), p, 1e-10, 1e-300));

  it('chi2_contingency on 2 x 10 tables and a 2 x 2 table (Yates)', () => {
    const t10 = [[310, 295, 301, 306, 289, 280, 290, 312, 288, 329], [8, 12, 9, 11, 10, 7, 14, 9, 10, 10]];
    const t10b = [[310, 295, 301, 306, 289, 280, 290, 312, 288, 329], [2, 30, 9, 11, 10, 1, 14, 9, 3, 11]];
    for (const [table, [statistic, pValue, dof]] of [[t10, [3.853912917420131, 0.920761687048411, 9]], [t10b, [58.33683169594788, 2.8006590615276215e-09, 9]], [[[12, 3], [17, 16]], [2.4091074080184787, 0.12063113097759684, 1]]] as const) {
      const result = chiSquareContingency(table as number[][]);
      close(result.statistic, statistic);
      close(result.pValue, pValue, 1e-9);
      expect(result.dof).toBe(dof);
    }
  });

  it('chisquare goodness of fit', () => {
    const result = chiSquareGoodnessOfFit([16, 18, 16, 14, 12, 20], [16, 16, 16, 16, 16, 16]);
    close(result.statistic, 2.5);
    close(result.pValue, 0.7764950711233227);
    expect(() => chiSquareGoodnessOfFit([1, 2], [1, 1])).toThrow(/sum to the observed total 3/);
  });

  it('two samples of counts drop categories empty in both', () => {
    const a = chiSquareTwoSample([310, 0, 295], [8, 0, 12]);
    const b = chiSquareContingency([[310, 295], [8, 12]]);
    expect(a).toEqual(b);
    expect(chiSquareTwoSample([5, 0], [3, 0])).toEqual({ statistic: 0, pValue: 1, dof: 0 });
  });
});

describe('Wasserstein, entropy, Bonferroni', () => {
  it('wasserstein_distance and Evidently\'s normed variant', () => {
    const u = seq(200, 7, 101, 0, 10);
    const v = seq(150, 13, 89, 7, 10);
    close(wassersteinDistance(u, v), 0.2981666666666667);
    close(normedWasserstein(u, v), 0.10276655507812493);
    expect(wassersteinDistance(u, u)).toBe(0);
  });

  it('scipy.stats.entropy (normalised, nats, 0 log 0 = 0)', () => {
    close(entropy([0.1, 0.2, 0.7]), 0.8018185525433373);
    close(entropy([1, 1, 2, 0]), 1.0397207708399179);
    close(entropy([0.98, 0.005, 0.005, 0, 0, 0, 0, 0, 0, 0.01]), 0.11883352869653035);
    expect([...rowEntropies(Float64Array.of(0.5, 0.5, 1, 0), 2)]).toEqual([Math.log(2), 0]);
  });

  it('Bonferroni holds each of k tests to alpha / k', () => {
    expect(bonferroni([0.02, 0.3], 0.05)).toEqual({ threshold: 0.025, adjusted: [0.04, 0.6], pValue: 0.04, reject: true });
    expect(bonferroni([0.03, 0.3], 0.05).reject).toBe(false);
  });
});

describe('mmdTest as alibi-detect computes MMD', () => {
  const x = Float64Array.from(seq(24, 7, 23, 0, 10));
  const y = Float64Array.from(seq(18, 5, 19, 3, 10));
  it('median-heuristic bandwidth and unbiased MMD^2 match the NumPy reference', () => {
    const same = mmdTest(x, y, 3, { permutations: 10 });
    close(same.sigma, 1.2041594578792294);
    close(same.statistic, -0.00035065917413357184, 1e-9, 1e-15);
    const shifted = mmdTest(x, y.map((v) => v + 0.8), 3, { permutations: 10 });
    close(shifted.sigma, 1.5149257407543117);
    close(shifted.statistic, 0.475970013224015);
  });

  it('the permutation p-value is seeded, large for one distribution and small for shifted ones', () => {
    const a = mmdTest(x, y, 3, { seed: 7 });
    expect(mmdTest(x, y, 3, { seed: 7 })).toEqual(a);
    expect(a.pValue).toBeGreaterThan(0.2);
    const ref = Float64Array.from(seq(300, 7919, 1009, 0, 100));
    const cur = Float64Array.from(seq(60, 613, 997, 300, 100));
    expect(mmdTest(ref, cur, 3).pValue).toBe(1 / 101); // no permutation reaches the observed MMD
    expect(mmdTest(ref, cur, 3).permutations).toBe(100);
  });
});
