/**
 * Estimated accuracy (CBPE, tasks/drift/cbpe.ts) per window and served
 * version, from the probabilities in the prediction log, each version
 * calibrated on its own drift reference; written beside realized accuracy:
 *
 *   <store>/monitoring/<model>/estimated-accuracy/<window>.json   EstimatedAccuracySeries
 */
import { fileAt, type StoreLocation } from '../store';
import { readStoredJson, shape } from '../../src/public/store';
import { driftReferenceDirectory } from '../store-layout';
import { type CbpeCalibration, cbpeFromReference, estimateAccuracy, estimatedDrop } from '../drift/cbpe';
import { type PredictionRecord, readPredictionLog } from '../serving/prediction-log/prediction-log';
import { type AccuracyWindow, bucketOf } from './realized-accuracy';

export interface EstimatedAccuracyPoint {
  readonly start: string;
  readonly end: string;
  readonly version: number;
  readonly predictions: number;
  /** Mean calibrated confidence; null when the version has no labelled reference to calibrate on. */
  readonly estimatedAccuracy: number | null;
  /** The version's accuracy on its reference, and whether the estimate fell more than `maxDrop` below it. */
  readonly referenceAccuracy: number | null;
  readonly alert: boolean;
}

export interface EstimatedAccuracySeries {
  readonly model: string;
  readonly window: AccuracyWindow;
  readonly maxDrop: number;
  readonly updatedAt: string;
  readonly points: readonly EstimatedAccuracyPoint[];
}

/** Estimates each window of each version; `calibrations` maps a version to its calibration (absent: not estimated). Pure. */
export function estimatedAccuracy(log: readonly PredictionRecord[], calibrations: ReadonlyMap<number, CbpeCalibration>, window: AccuracyWindow, maxDrop: number): EstimatedAccuracyPoint[] {
  const seen = new Map<number, number>();
  const groups = new Map<string, PredictionRecord[]>();
  for (const r of log) {
    const index = seen.get(r.version) ?? 0;
    seen.set(r.version, index + 1);
    const key = `${r.version}\0${bucketOf(window, r, index)}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()]
    .map((records): EstimatedAccuracyPoint => {
      const version = records[0].version;
      const classes = records[0].probabilities.length;
      const calibration = calibrations.get(version);
      const times = records.map((r) => r.time).sort();
      const base = { start: times[0], end: times[times.length - 1], version, predictions: records.length };
      if (!calibration) return { ...base, estimatedAccuracy: null, referenceAccuracy: null, alert: false };
      const estimated = estimateAccuracy(calibration, Float32Array.from(records.flatMap((r) => r.probabilities)), classes);
      return { ...base, estimatedAccuracy: estimated, referenceAccuracy: calibration.referenceAccuracy, alert: estimatedDrop(calibration, estimated, maxDrop).alert };
    })
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.version - b.version));
}

export const estimatedAccuracyFile = (store: StoreLocation, model: string, window: AccuracyWindow) => fileAt(store, 'monitoring', model, 'estimated-accuracy', `${window}.json`);

/** Calibrates every served version that has a labelled drift reference, estimates each window, writes the series. */
export async function writeEstimatedAccuracy(store: StoreLocation, model: string, window: AccuracyWindow, maxDrop = 0.05, log?: readonly PredictionRecord[]): Promise<EstimatedAccuracySeries> {
  const records = log ?? (await readPredictionLog(store, model));
  const calibrations = new Map<number, CbpeCalibration>();
  for (const version of new Set(records.map((r) => r.version))) {
    const reference = driftReferenceDirectory(store, model, version);
    if (await reference.exists()) calibrations.set(version, await cbpeFromReference(reference));
  }
  const series: EstimatedAccuracySeries = { model, window, maxDrop, updatedAt: new Date().toISOString(), points: estimatedAccuracy(records, calibrations, window, maxDrop) };
  await estimatedAccuracyFile(store, model, window).writeJson(series);
  return series;
}

/** The stored series, checked; undefined when none was written. */
export function readEstimatedAccuracy(store: StoreLocation, model: string, window: AccuracyWindow): Promise<EstimatedAccuracySeries | undefined> {
  const check = (value: unknown): string | undefined => {
    const bad = shape.fields(value, { model: 'string', window: 'string', maxDrop: 'number', updatedAt: 'string', points: 'array' });
    if (bad) return bad;
    for (const [i, p] of (value as { points: unknown[] }).points.entries()) {
      const b = shape.fields(p, { start: 'string', end: 'string', version: 'number', predictions: 'number', alert: 'boolean' });
      if (b) return `point ${i + 1}: ${b}`;
    }
    return undefined;
  };
  return readStoredJson<EstimatedAccuracySeries>(estimatedAccuracyFile(store, model, window), check, `Remove it: \`dagwright labels accuracy --window ${window}\` writes it again from the prediction log.`);
}
