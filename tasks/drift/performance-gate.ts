/**
 * Whether a drifted window calls for retraining, judged by the serving
 * version's accuracy (NannyML's advice: drift says what changed, performance
 * says whether it matters). Two measures, each against the accuracy the
 * version scored on its own reference:
 *
 *   realized   its newest labelled predictions (late labels joined by id),
 *              once at least MIN_LABELLED of them are labelled;
 *   estimated  CBPE (cbpe.ts) on the window's served probabilities.
 *
 * Retraining is called for when either has fallen by `minDrop` or more, or
 * when neither can be measured (no calibration, too few labels and no
 * window): a monitor that cannot tell must not stay silent.
 */
import { type CbpeCalibration, cbpeFromReference, estimateAccuracy } from './cbpe';
import { readLateLabels } from '../labels/late-labels';
import type { PredictionRecord } from '../serving/prediction-log/prediction-log';
import { driftReferenceDirectory } from '../store-layout';
import { readLogWindow } from './window';

/** Labelled predictions below which realized accuracy is too noisy to judge (about 4 points of standard error at 95%). */
export const MIN_LABELLED = 30;
/** How far back, in windows, the newest labelled predictions are looked for: labels arrive days late. */
const LOOKBACK_WINDOWS = 5;

export interface PerformanceEvidence {
  readonly version: number;
  readonly referenceAccuracy: number | null;
  /** Accuracy on the version's newest labelled predictions (at most a window's worth); null below MIN_LABELLED. */
  readonly realized: { readonly accuracy: number; readonly labelled: number } | null;
  /** CBPE estimate on the window's predictions by this version; null without a calibration. */
  readonly estimated: number | null;
  readonly minDrop: number;
  /** Retraining is called for: a measure fell by minDrop or more, or nothing could be measured. */
  readonly dropped: boolean;
}

/** The window a prediction-log monitor checked: the newest `last` records up to `until`. */
export interface LoggedWindow {
  readonly last: number;
  readonly until?: string;
}

/** Judges the version that served `window` (see the module comment). */
export async function performanceEvidence(store: string, model: string, version: number, window: LoggedWindow, minDrop: number): Promise<PerformanceEvidence> {
  const [calibration, records, labels] = await Promise.all([
    calibrationOf(store, model, version),
    readLogWindow(store, model, { last: window.last * LOOKBACK_WINDOWS, until: window.until }),
    readLateLabels(store, model),
  ]);
  const served = records.filter((r) => r.version === version);
  const realized = realizedOnNewest(served, new Map(labels.map((l) => [l.id, l.label])), window.last);
  const current = served.slice(-window.last);
  const estimated = calibration && current.length > 0 ? estimateAccuracy(calibration, Float32Array.from(current.flatMap((r) => r.probabilities)), current[0].probabilities.length) : null;
  const reference = calibration?.referenceAccuracy ?? null;
  const fell = (accuracy: number | null) => reference !== null && accuracy !== null && reference - accuracy >= minDrop;
  const measured = reference !== null && (realized !== null || estimated !== null);
  return { version, referenceAccuracy: reference, realized, estimated, minDrop, dropped: !measured || fell(realized?.accuracy ?? null) || fell(estimated) };
}

/** The version's CBPE calibration; undefined when its reference is missing or holds no labels. */
async function calibrationOf(store: string, model: string, version: number): Promise<CbpeCalibration | undefined> {
  const reference = driftReferenceDirectory(store, model, version);
  return (await reference.exists()) ? cbpeFromReference(reference).catch(() => undefined) : undefined;
}

/** Accuracy on the newest `most` labelled records; null when fewer than MIN_LABELLED are labelled. */
function realizedOnNewest(records: readonly PredictionRecord[], truth: ReadonlyMap<string, number>, most: number): PerformanceEvidence['realized'] {
  let labelled = 0;
  let correct = 0;
  for (let i = records.length - 1; i >= 0 && labelled < most; i--) {
    const t = truth.get(records[i].requestId);
    if (t === undefined) continue;
    labelled++;
    if (t === records[i].label) correct++;
  }
  return labelled < MIN_LABELLED ? null : { accuracy: correct / labelled, labelled };
}
