/**
 * Realized accuracy: served predictions joined with the labels that arrived
 * for them (late-labels.ts), per window and per served version, written as
 * a time series in the store for the CLI, the UI's operations page and the
 * monitor:
 *
 *   <store>/monitoring/<model>/realized-accuracy/<window>.json   RealizedAccuracySeries
 *
 * where <window> is `hour`, `day` or `every-<N>` (N predictions of one version).
 * Labelled predictions also become a labelled batch retraining can use.
 */
import { fileAt, type StoreLocation } from '../store';
import { readStoredJson, shape } from '../../src/public/store';
import { writeLabelledBatch, type LabelledBatchManifest } from '../data/labelled-batch';
import { type PredictionRecord, readPredictionLog, recordPixels } from '../serving/prediction-log/prediction-log';
import { type LateLabel, readLateLabels } from './late-labels';

export type AccuracyWindow = 'hour' | 'day' | `every-${number}`;

/** One window of one served version. */
export interface RealizedAccuracyPoint {
  /** The window's first and last prediction time (ISO). */
  readonly start: string;
  readonly end: string;
  readonly version: number;
  readonly predictions: number;
  /** Predictions of the window with a label so far. */
  readonly labelled: number;
  readonly correct: number;
  /** correct / labelled; null while none is labelled. */
  readonly accuracy: number | null;
}

/** The stored series, oldest window first. */
export interface RealizedAccuracySeries {
  readonly model: string;
  readonly window: AccuracyWindow;
  readonly updatedAt: string;
  readonly points: readonly RealizedAccuracyPoint[];
}

/** Checks a window name: `hour`, `day` or `every-<N>`. */
export function parseAccuracyWindow(text: string): AccuracyWindow {
  if (text === 'hour' || text === 'day') return text;
  const every = /^(?:every-)?(\d+)$/.exec(text);
  if (every && Number(every[1]) >= 1) return `every-${Number(every[1])}`;
  throw new RangeError(`window "${text}" is not known: use hour, day or every-<N> (N predictions).`);
}

/** The window a prediction falls in (per version for every-N windows). */
export function bucketOf(window: AccuracyWindow, record: PredictionRecord, indexInVersion: number): string {
  if (window === 'hour') return record.time.slice(0, 13);
  if (window === 'day') return record.time.slice(0, 10);
  return String(Math.floor(indexInVersion / Number(window.slice('every-'.length))));
}

/** Joins predictions with labels and scores each window of each version. Pure. */
export function realizedAccuracy(log: readonly PredictionRecord[], labels: readonly Pick<LateLabel, 'id' | 'label'>[], window: AccuracyWindow): RealizedAccuracyPoint[] {
  const truth = new Map(labels.map((l) => [l.id, l.label]));
  const seen = new Map<number, number>();
  const groups = new Map<string, { start: string; end: string; version: number; predictions: number; labelled: number; correct: number }>();
  for (const r of log) {
    const index = seen.get(r.version) ?? 0;
    seen.set(r.version, index + 1);
    const key = `${r.version}\0${bucketOf(window, r, index)}`;
    const g = groups.get(key) ?? { start: r.time, end: r.time, version: r.version, predictions: 0, labelled: 0, correct: 0 };
    g.end = r.time > g.end ? r.time : g.end;
    g.start = r.time < g.start ? r.time : g.start;
    g.predictions++;
    const t = truth.get(r.requestId);
    if (t !== undefined) {
      g.labelled++;
      if (t === r.label) g.correct++;
    }
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => ({ ...g, accuracy: g.labelled === 0 ? null : g.correct / g.labelled }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.version - b.version));
}

export const realizedAccuracyFile = (store: StoreLocation, model: string, window: AccuracyWindow) => fileAt(store, 'monitoring', model, 'realized-accuracy', `${window}.json`);

/** Recomputes and writes a model's series for `window` from the prediction log and the labels; returns it. */
export async function writeRealizedAccuracy(store: StoreLocation, model: string, window: AccuracyWindow): Promise<RealizedAccuracySeries> {
  const [log, labels] = await Promise.all([readPredictionLog(store, model), readLateLabels(store, model)]);
  const series: RealizedAccuracySeries = { model, window, updatedAt: new Date().toISOString(), points: realizedAccuracy(log, labels, window) };
  await realizedAccuracyFile(store, model, window).writeJson(series);
  return series;
}

const pointFields = { start: 'string', end: 'string', version: 'number', predictions: 'number', labelled: 'number', correct: 'number' } as const;

/** The stored series, checked; undefined when none was written. Throws DamagedFileError naming a damaged file. */
export function readRealizedAccuracy(store: StoreLocation, model: string, window: AccuracyWindow): Promise<RealizedAccuracySeries | undefined> {
  const check = (value: unknown): string | undefined => {
    const bad = shape.fields(value, { model: 'string', window: 'string', updatedAt: 'string', points: 'array' });
    if (bad) return bad;
    for (const [i, p] of (value as { points: unknown[] }).points.entries()) {
      const b = shape.fields(p, pointFields);
      if (b) return `point ${i + 1}: ${b}`;
    }
    return undefined;
  };
  return readStoredJson<RealizedAccuracySeries>(realizedAccuracyFile(store, model, window), check, `Remove it: \`dagwright labels accuracy --window ${window}\` writes it again from the prediction log and the labels.`);
}

/** The labelled predictions as a labelled batch (<store>/labels/<batchId>/) for retraining; undefined when none is labelled. */
export async function labelledPredictionsBatch(store: StoreLocation, model: string, batchId: string): Promise<LabelledBatchManifest | undefined> {
  const [log, labels] = await Promise.all([readPredictionLog(store, model), readLateLabels(store, model)]);
  const truth = new Map(labels.map((l) => [l.id, l.label]));
  const picked = log.filter((r) => truth.has(r.requestId) && r.shape.reduce((a, b) => a * b, 1) === 784);
  if (picked.length === 0) return undefined;
  const pixels = new Uint8Array(picked.length * 784);
  picked.forEach((r, i) => pixels.set(recordPixels(r), i * 784));
  return writeLabelledBatch(store, batchId, { pixels, labels: Uint8Array.from(picked, (r) => truth.get(r.requestId)!), source: `late labels of ${model}'s served predictions` });
}
