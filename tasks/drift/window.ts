/**
 * The "current" side of a drift check: a window of the server's prediction
 * log (the newest N records up to a time, optionally since a time) or a
 * sample of a data source. Each window has a key that names it, which the
 * monitor uses to start retraining at most once per window.
 */
import { createHash } from 'node:crypto';
import { readPredictionLog, type ReadPredictionLogOptions, recordPixels, type PredictionRecord } from '../serving/prediction-log/prediction-log';
import { MNIST_PIXELS } from '../data/mnist-format';
import type { ImageBatch } from './sources/image-batch';
import { sampleImages } from './sources/image-batch';
import { loadSource } from './sources/source-spec';
import type { DriftWindow } from './report';
import { DriftDataError } from './errors';

export interface LogWindowSpec {
  readonly last: number;
  /** ISO time: only records at or after it. */
  readonly since?: string;
  /** ISO time: only records at or before it (default: all so far). */
  readonly until?: string;
}

const key = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 24);

/** The newest `last` records at or before `until` (and at or after `since`), oldest first. */
export async function readLogWindow(store: string, model: string, spec: LogWindowSpec, onDamaged?: ReadPredictionLogOptions['onDamaged']): Promise<PredictionRecord[]> {
  const since = spec.since ? new Date(spec.since) : undefined;
  for (let extra = 0; ; extra = Math.max(100, extra * 4)) {
    const records = await readPredictionLog(store, model, { last: spec.last + extra, since, onDamaged });
    const kept = spec.until ? records.filter((r) => r.time <= spec.until!) : records;
    // Enough records up to `until`, or the log holds no more: done.
    if (kept.length >= spec.last || records.length < spec.last + extra) return kept.slice(Math.max(0, kept.length - spec.last));
  }
}

/** Log records as an image batch (their labels are the model's answers, not truths: left out). */
export function recordsToBatch(records: readonly PredictionRecord[]): ImageBatch {
  const pixels = new Uint8Array(records.length * MNIST_PIXELS);
  records.forEach((r, i) => {
    const p = recordPixels(r);
    if (p.length !== MNIST_PIXELS) throw new DriftDataError(`prediction log record ${r.requestId} at ${r.time} holds ${p.length} pixels, expected 784 (28x28)`);
    pixels.set(p, i * MNIST_PIXELS);
  });
  return { name: 'prediction-log', count: records.length, pixels };
}

/** Reads a prediction-log window as images plus its description. */
export async function logWindow(store: string, model: string, spec: LogWindowSpec): Promise<{ batch: ImageBatch; window: DriftWindow }> {
  // Damaged lines (a server killed mid-write) are skipped and counted in the window, not fatal.
  const damaged = new Map<string, number>();
  const records = await readLogWindow(store, model, spec, (d) => damaged.set(d.uri, d.lines));
  const first = records[0];
  const last = records.at(-1);
  const window: DriftWindow = {
    kind: 'prediction-log',
    count: records.length,
    last: spec.last,
    ...(spec.since ? { since: spec.since } : {}),
    ...(spec.until ? { until: spec.until } : {}),
    ...(first && last ? { from: first.time, to: last.time } : {}),
    servedBy: [...new Set(records.map((r) => r.version))].sort((a, b) => a - b),
    ...(damaged.size > 0 ? { damagedLines: [...damaged.values()].reduce((a, b) => a + b, 0), damagedChunks: [...damaged.keys()] } : {}),
    key: key(`log:${model}:${first?.time}:${first?.requestId}:${last?.time}:${last?.requestId}:${records.length}`),
  };
  return { batch: recordsToBatch(records), window };
}

/** A seeded sample of `size` images of a data source. */
export async function sourceWindow(source: string, size: number, seed: number, store?: string): Promise<{ batch: ImageBatch; window: DriftWindow }> {
  const batch = sampleImages(await loadSource(source, { store, seed }), size, seed);
  return { batch, window: { kind: 'source', count: batch.count, source, seed, key: key(`source:${source}:${size}:${seed}`) } };
}
