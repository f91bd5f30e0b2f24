import type { MetricPoint } from '../../../src/tracking/tracking-files';

/** One uPlot chart as app.js draws it: x values and one series per curve (null where a curve has no point). */
export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly x: number[];
  readonly series: { label: string; values: (number | null)[] }[];
}

/** Curves of one metric (one per run or attempt) on a shared step axis. */
export function metricChart(title: string, curves: readonly { label: string; points: readonly MetricPoint[] }[]): ChartSpec {
  const steps = [...new Set(curves.flatMap((c) => c.points.map((p) => p.step)))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  return {
    title,
    xLabel: 'step',
    x: steps,
    series: curves.map((c) => {
      const values: (number | null)[] = steps.map(() => null);
      for (const p of c.points) values[index.get(p.step)!] = Number.isFinite(p.value) ? p.value : null;
      return { label: c.label, values };
    }),
  };
}
