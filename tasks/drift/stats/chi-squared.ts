/**
 * Pearson's chi-squared tests: goodness of fit (SciPy's `chisquare`) and
 * independence in a contingency table (SciPy's `chi2_contingency`, with
 * Yates' correction when there is one degree of freedom, as its default
 * `correction=True` applies it). Two samples of category counts are
 * compared as a 2 x k table, as alibi-detect's ChiSquareDrift does.
 */
import { chiSquaredSurvival } from './special';
import { StatisticInputError } from '../errors';

export interface ChiSquaredResult {
  readonly statistic: number;
  readonly pValue: number;
  readonly dof: number;
}

function checkCounts(values: readonly number[], name: string): void {
  for (const v of values) if (!(v >= 0) || !Number.isFinite(v)) throw new StatisticInputError(`Expected \`${name}\` to hold counts >= 0, got ${v}`);
}

/** Goodness of fit of `observed` to `expected` (default: uniform); the expected counts are used as given. */
export function chiSquareGoodnessOfFit(observed: readonly number[], expected?: readonly number[]): ChiSquaredResult {
  checkCounts(observed, 'observed');
  const total = observed.reduce((a, b) => a + b, 0);
  const exp = expected ?? observed.map(() => total / observed.length);
  if (exp.length !== observed.length) throw new StatisticInputError(`Expected as many expected counts as observed (${observed.length}), got ${exp.length}`);
  const expectedTotal = exp.reduce((a, b) => a + b, 0);
  if (Math.abs(expectedTotal - total) > 1.5e-8 * Math.max(total, expectedTotal)) {
    throw new StatisticInputError(`Expected the expected counts to sum to the observed total ${total}, got ${expectedTotal} (SciPy refuses this too)`);
  }
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) statistic += (observed[i] - exp[i]) ** 2 / exp[i];
  const dof = observed.length - 1;
  return { statistic, pValue: dof > 0 ? chiSquaredSurvival(statistic, dof) : 1, dof };
}

/** Test of independence of the rows and columns of a contingency table of counts. */
export function chiSquareContingency(table: readonly (readonly number[])[], correction = true): ChiSquaredResult {
  const rows = table.length;
  const cols = table[0]?.length ?? 0;
  if (rows === 0 || cols === 0) throw new StatisticInputError('Expected a non-empty table of counts');
  table.forEach((row, r) => {
    if (row.length !== cols) throw new StatisticInputError(`Expected every row to have ${cols} counts, row ${r} has ${row.length}`);
    checkCounts(row, `table[${r}]`);
  });
  const rowSums = table.map((row) => row.reduce((a, b) => a + b, 0));
  const colSums = Array.from({ length: cols }, (_, c) => table.reduce((s, row) => s + row[c], 0));
  const total = rowSums.reduce((a, b) => a + b, 0);
  const expected = table.map((_, r) => colSums.map((c) => (rowSums[r] * c) / total));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (expected[r][c] === 0) throw new StatisticInputError(`the expected count at row ${r}, column ${c} is 0: drop categories that are empty in every sample`);
    }
  }
  const dof = rows * cols - rows - cols + 1;
  if (dof === 0) return { statistic: 0, pValue: 1, dof };
  let statistic = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let observed = table[r][c];
      const diff = expected[r][c] - observed;
      if (dof === 1 && correction) observed += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      statistic += (observed - expected[r][c]) ** 2 / expected[r][c];
    }
  }
  return { statistic, pValue: chiSquaredSurvival(statistic, dof), dof };
}

/** Two samples of category counts (same categories, same order) as a 2 x k table; categories empty in both are dropped. */
export function chiSquareTwoSample(reference: readonly number[], current: readonly number[]): ChiSquaredResult {
  if (reference.length !== current.length) throw new StatisticInputError(`Expected the same categories in both samples, got ${reference.length} and ${current.length}`);
  const keep = reference.map((r, i) => r + current[i] > 0);
  const table = [reference.filter((_, i) => keep[i]), current.filter((_, i) => keep[i])];
  if (table[0].length < 2) return { statistic: 0, pValue: 1, dof: 0 };
  return chiSquareContingency(table);
}
