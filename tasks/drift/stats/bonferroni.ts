/**
 * Bonferroni's correction for k tests at level alpha: each test is
 * rejected when its p-value is below alpha / k (alibi-detect's
 * `correction='bonferroni'`, which flags drift when any feature's p-value is
 * below that threshold).
 */
import { StatisticInputError } from '../errors';

export interface BonferroniResult {
  /** alpha / k: the level each test is held to. */
  readonly threshold: number;
  /** min(1, p * k) for each test. */
  readonly adjusted: number[];
  /** The smallest adjusted p-value: the family's p-value. */
  readonly pValue: number;
  /** Whether any test is below the threshold. */
  readonly reject: boolean;
}

export function bonferroni(pValues: readonly number[], alpha: number): BonferroniResult {
  if (pValues.length === 0) throw new StatisticInputError('Expected at least one p-value');
  if (!(alpha > 0 && alpha < 1)) throw new StatisticInputError(`Expected \`alpha\` to be between 0 and 1, got ${alpha}`);
  const k = pValues.length;
  const adjusted = pValues.map((p) => Math.min(1, p * k));
  const threshold = alpha / k;
  return { threshold, adjusted, pValue: Math.min(...adjusted), reject: pValues.some((p) => p < threshold) };
}
