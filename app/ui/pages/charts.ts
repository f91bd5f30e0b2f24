import type { MetricPoint } from '../../../src/tracking/tracking-files';

/**
 * One chart as app.js draws it (uPlot): x values and one series per curve
 * (null where a curve has no point), and how to draw them so the picture
 * tells the truth: bars for categories, a log axis with threshold lines for
 * p-values, whole-number steps for epochs, a plain number for one value.
 */
export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly x: number[];
  readonly series: { label: string; values: (number | null)[] }[];
  /** `line` (default), `bars` (categories side by side), `value` (one number per series, no axes). */
  readonly kind?: 'line' | 'bars' | 'value';
  /** x is seconds since the epoch. */
  readonly time?: boolean;
  /** x takes whole numbers only (steps, epochs, classes): no 1.5 ticks. */
  readonly xInteger?: boolean;
  /** y takes whole numbers only (a version): no 1.5 ticks. */
  readonly yInteger?: boolean;
  /** A value that holds until the next point (a served version): drawn as steps, not slopes. */
  readonly stepped?: boolean;
  /** Names for x = 0, 1, 2... (classes of a histogram). */
  readonly categories?: string[];
  readonly yLabel?: string;
  /** A logarithmic y axis (p-values span 1e-40 to 1). */
  readonly yLog?: boolean;
  /** Horizontal lines: a decision threshold. */
  readonly thresholds?: { label: string; value: number }[];
}

/** Curves of one metric (one per run or attempt) on a shared step axis; one value each: shown as numbers. */
export function metricChart(title: string, curves: readonly { label: string; points: readonly MetricPoint[] }[]): ChartSpec {
  const steps = [...new Set(curves.flatMap((c) => c.points.map((p) => p.step)))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const series = curves.map((c) => {
    const values: (number | null)[] = steps.map(() => null);
    for (const p of c.points) values[index.get(p.step)!] = Number.isFinite(p.value) ? p.value : null;
    return { label: c.label, values };
  });
  const single = curves.every((c) => c.points.length <= 1);
  if (single) {
    return { title, xLabel: 'step', kind: 'value', x: [0], series: curves.map((c) => ({ label: c.label, values: [c.points.at(-1)?.value ?? null] })) };
  }
  return { title, xLabel: /epoch/i.test(title) ? 'epoch' : 'step', x: steps, series, xInteger: steps.every(Number.isInteger) };
}
