/**
 * The simulated month's timeline (flows/operate.ts): per simulated day the
 * served versions, realized accuracy (late labels), CBPE-estimated accuracy
 * and the accuracy on every image's own label, overall and per source; the
 * drift verdicts, swaps and requests; and the figures the benchmark reports.
 * Pure: the driver gathers the records, this turns them into the timeline.
 */
import type { CbpeCalibration } from '../tasks/drift/cbpe';
import { estimatedAccuracy } from '../tasks/labels/estimated-accuracy';
import type { AliasDecision } from '../tasks/registry/registry';
import type { PredictionRecord } from '../tasks/store-layout';

/** One served prediction of the simulation, with where its image came from and its true label. */
export interface SimulatedPrediction {
  readonly day: number;
  readonly source: string;
  readonly truth: number;
  readonly record: PredictionRecord;
}

/** One monitor run's verdict. */
export interface MonitorVerdict {
  readonly day: number;
  readonly version: number;
  readonly drift: boolean;
  readonly action: string;
}

export interface DayInput {
  readonly day: number;
  readonly increment: number;
  /** Share of the day's traffic from the shifted source. */
  readonly shiftShare: number;
  readonly requests: number;
  readonly failedRequests: number;
  readonly labelsImported: number;
  readonly champion: number;
  /** Wall-clock bounds of the simulated day (swaps are placed by them). */
  readonly startedAt: string;
  readonly endedAt: string;
}

export interface Accuracies {
  readonly predictions: number;
  /** Late labels that arrived for the window's predictions, and the accuracy on them (null: none). */
  readonly labelled: number;
  readonly realized: number | null;
  /** CBPE estimate (null: no calibrated version served the window). */
  readonly estimated: number | null;
  readonly estimatedAlert: boolean;
  /** On every image's own label (the oracle the benchmark scores against). */
  readonly truth: number | null;
}

export interface TimelineDay extends DayInput {
  readonly servedVersions: Record<string, number>;
  readonly overall: Accuracies;
  readonly bySource: Record<string, Accuracies>;
  readonly verdicts: readonly MonitorVerdict[];
  readonly swaps: readonly { version: number; from: number | null; reason?: string; margin: number | null }[];
}

export interface OperateFigures {
  readonly days: number;
  readonly days_to_detect: number | null;
  readonly days_to_recover: number | null;
  readonly routine_regressions: number;
  readonly failed_requests: number;
  readonly cbpe_mae_in_dist: number | null;
  readonly cbpe_mae_shifted: number | null;
  readonly false_alarm_days: number;
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Realized, estimated and true accuracy of a set of predictions. */
export function accuraciesOf(predictions: readonly SimulatedPrediction[], labels: ReadonlyMap<string, number>, calibrations: ReadonlyMap<number, CbpeCalibration>, maxDrop: number): Accuracies {
  const labelled = predictions.filter((p) => labels.has(p.record.requestId));
  const correct = labelled.filter((p) => labels.get(p.record.requestId) === p.record.label).length;
  const points = estimatedAccuracy(predictions.map((p) => p.record), calibrations, `every-${Number.MAX_SAFE_INTEGER}`, maxDrop).filter((p) => p.estimatedAccuracy !== null);
  const estimatedCount = points.reduce((a, p) => a + p.predictions, 0);
  return {
    predictions: predictions.length,
    labelled: labelled.length,
    realized: labelled.length === 0 ? null : correct / labelled.length,
    estimated: estimatedCount === 0 ? null : points.reduce((a, p) => a + p.estimatedAccuracy! * p.predictions, 0) / estimatedCount,
    estimatedAlert: points.some((p) => p.alert),
    truth: predictions.length === 0 ? null : predictions.filter((p) => p.truth === p.record.label).length / predictions.length,
  };
}

/** Swaps of `champion` decided within the day's wall-clock bounds. */
function swapsOf(day: DayInput, decisions: readonly AliasDecision[]): TimelineDay['swaps'] {
  return decisions
    .filter((d) => d.alias === 'champion' && d.promoted && d.holder !== null && d.at >= day.startedAt && d.at <= day.endedAt)
    .map((d) => ({ version: d.version, from: d.holder, reason: d.reason, margin: d.evidence?.margin ?? null }));
}

export interface TimelineInputs {
  readonly days: readonly DayInput[];
  readonly predictions: readonly SimulatedPrediction[];
  readonly labels: ReadonlyMap<string, number>;
  readonly calibrations: ReadonlyMap<number, CbpeCalibration>;
  readonly verdicts: readonly MonitorVerdict[];
  readonly decisions: readonly AliasDecision[];
  readonly maxDrop: number;
}

export function buildTimeline(inputs: TimelineInputs): TimelineDay[] {
  const { labels, calibrations, maxDrop } = inputs;
  return inputs.days.map((day) => {
    const today = inputs.predictions.filter((p) => p.day === day.day);
    const servedVersions: Record<string, number> = {};
    for (const p of today) servedVersions[p.record.version] = (servedVersions[p.record.version] ?? 0) + 1;
    const bySource: Record<string, Accuracies> = {};
    for (const source of new Set(today.map((p) => p.source)))
      bySource[source] = accuraciesOf(
        today.filter((p) => p.source === source),
        labels,
        calibrations,
        maxDrop,
      );
    return {
      ...day,
      servedVersions,
      overall: accuraciesOf(today, labels, calibrations, maxDrop),
      bySource,
      verdicts: inputs.verdicts.filter((v) => v.day === day.day),
      swaps: swapsOf(day, inputs.decisions),
    };
  });
}

/** The benchmark's figures (see the Benchmark section) from a timeline; `shiftDay` is the first day with shifted traffic. */
export function operateFigures(timeline: readonly TimelineDay[], decisions: readonly AliasDecision[], shiftDay: number, shifted: string, inDist: string): OperateFigures {
  const alarm = (d: TimelineDay) => d.verdicts.some((v) => v.drift) || d.overall.estimatedAlert;
  const detected = timeline.find((d) => d.day >= shiftDay && d.shiftShare > 0 && alarm(d));
  const recovered = timeline.find((d) => d.day >= shiftDay && (d.bySource[shifted]?.truth ?? 0) >= 0.95);
  const cbpeError = (source: string, days: readonly TimelineDay[]) =>
    mean(days.flatMap((d) => {
      const a = d.bySource[source];
      return a && a.realized !== null && a.estimated !== null ? [Math.abs(a.estimated - a.realized)] : [];
    }));
  const regressions = decisions.filter((d) => d.alias === 'champion' && d.promoted && d.holder !== null && d.evidence?.candidate && d.evidence.champion && d.evidence.candidate.score < d.evidence.champion.score);
  return {
    days: timeline.length,
    days_to_detect: detected ? detected.day - shiftDay : null,
    days_to_recover: recovered ? recovered.day - shiftDay : null,
    routine_regressions: regressions.length,
    failed_requests: timeline.reduce((a, d) => a + d.failedRequests, 0),
    cbpe_mae_in_dist: cbpeError(inDist, timeline),
    cbpe_mae_shifted: cbpeError(shifted, timeline),
    false_alarm_days: timeline.filter((d) => d.shiftShare === 0 && alarm(d)).length,
  };
}
