/**
 * The store's layout for the ML life cycle, in one place: each location's
 * path, and for the files several programs read (the CLI, the UI, the
 * server, the monitor), the one validating reader of their format. The
 * run history and run data (`_runs/`, `_run-data/`) are the library's
 * (src/history, src/tracking).
 *
 *   registry/<model>/aliases.json, versions/<n>.json, models/<n>/, claims/<n>
 *   registry/<model>/drift-reference/<version>/   a dataset (manifest.json + tensors)
 *   monitoring/<model>/latest.json                 the newest drift summary (DriftSummary)
 *   monitoring/<model>/reports/<id>/               report.json, report.html
 *   monitoring/<model>/events/, retrain-claims/, monitor/
 *   serving/<model>/predictions/<day>/<chunk>.jsonl   the prediction log (PredictionRecord lines)
 *   labels/<batchId>/                              a labelled batch (manifest.json + tensors)
 *   drift/increments/<id>/, drift/models/<id>/     retraining data and models
 *   registry/<model>/contracts/<n>.json            promotion contract versions (registry/promotion-contract.ts)
 *   feedback/<model>/labels/<n>.jsonl              late labels by prediction id (labels/late-labels.ts)
 *   monitoring/<model>/realized-accuracy/<w>.json, estimated-accuracy/<w>.json   (labels/realized-accuracy.ts, estimated-accuracy.ts)
 *   serving/<model>/history/<hour>/<instance>.json  per-minute serving records and events (serving/serving-history.ts)
 */
import type { DirectoryTarget, FileTarget } from '../src';
import { parseJsonLines, readStoredJson, shape } from '../src/public/store';
import type { DriftSummary } from './drift/report';
import { directoryAt, fileAt, type StoreLocation } from './store';

export type { DriftSummary } from './drift/report';

/** One line of the prediction log: a served image and the answer given. */
export interface PredictionRecord {
  readonly time: string;
  readonly requestId: string;
  readonly model: string;
  readonly version: number;
  /** The image's shape without the batch dimension, e.g. [28, 28]. */
  readonly shape: readonly number[];
  /** base64 of the image as uint8 0-255 (FP32 inputs are stored scaled to uint8). */
  readonly pixels: string;
  readonly probabilities: readonly number[];
  readonly label: number;
}

/** `registry/<model>/<parts>`. */
export function registryFile(store: StoreLocation, model: string, ...parts: string[]): FileTarget {
  return fileAt(store, 'registry', model, ...parts);
}

export function registryDirectory(store: StoreLocation, model: string, ...parts: string[]): DirectoryTarget {
  return directoryAt(store, 'registry', model, ...parts);
}

/** The file a model's aliases live in; servers watch it to swap versions. */
export function aliasesFile(store: StoreLocation, model: string): FileTarget {
  return registryFile(store, model, 'aliases.json');
}

/** The drift reference of a model version: the dataset the monitor compares traffic with. */
export function driftReferenceDirectory(store: StoreLocation, model: string, version: number): DirectoryTarget {
  return registryDirectory(store, model, 'drift-reference', String(version));
}

/** `monitoring/<model>/<parts>`. */
export function monitoringFile(store: StoreLocation, model: string, ...parts: string[]): FileTarget {
  return fileAt(store, 'monitoring', model, ...parts);
}

export function monitoringDirectory(store: StoreLocation, model: string, ...parts: string[]): DirectoryTarget {
  return directoryAt(store, 'monitoring', model, ...parts);
}

/** The newest drift summary of a model, written by each drift check. */
export function latestSummaryFile(store: StoreLocation, model: string): FileTarget {
  return monitoringFile(store, model, 'latest.json');
}

/** A prediction log's folder; chunks are `<day>/<chunk>.jsonl` under it. */
export function predictionLogDirectory(store: StoreLocation, model: string): DirectoryTarget {
  return directoryAt(store, 'serving', model, 'predictions');
}

export function predictionChunkFile(store: StoreLocation, model: string, day: string, chunk: string): FileTarget {
  return fileAt(store, 'serving', model, 'predictions', day, `${chunk}.jsonl`);
}

/** A labelled batch's folder, or (without an id) the folder of all of them. */
export function labelsDirectory(store: StoreLocation, batchId?: string): DirectoryTarget {
  return batchId === undefined ? directoryAt(store, 'labels') : directoryAt(store, 'labels', batchId);
}

const summaryFields = { time: 'string', model: 'string', version: 'number', drift: 'boolean', tests: 'array' } as const;
const summaryTestFields = { name: 'string', statistic: 'number', threshold: 'number', drift: 'boolean' } as const;

function checkDriftSummary(value: unknown): string | undefined {
  const problem = shape.fields(value, summaryFields);
  if (problem) return problem;
  const tests = (value as { tests: unknown[] }).tests;
  for (const [i, test] of tests.entries()) {
    const bad = shape.fields(test, summaryTestFields);
    if (bad) return `test ${i + 1} of "tests": ${bad}`;
  }
  return undefined;
}

/**
 * The newest drift summary, checked; undefined when no check has written one.
 * Throws `DamagedFileError` naming the file when it is truncated or of another shape.
 */
export function readLatestSummary(store: StoreLocation, model: string): Promise<DriftSummary | undefined> {
  const file = latestSummaryFile(store, model);
  const repair = `Remove it: the next drift check (flows/monitor.ts) writes it again from its report under ${monitoringDirectory(store, model, 'reports').uri}.`;
  return readStoredJson<DriftSummary>(file, checkDriftSummary, repair);
}

function checkPredictionRecord(value: unknown): string | undefined {
  return shape.fields(value, { time: 'string', requestId: 'string', model: 'string', version: 'number', shape: 'array', pixels: 'string', probabilities: 'array', label: 'number' });
}

/** A prediction-log chunk's records; lines that do not parse or have another shape (a half-written line) are skipped and counted. */
export async function readPredictionChunk(file: FileTarget): Promise<{ records: PredictionRecord[]; damaged: number }> {
  return parseJsonLines<PredictionRecord>(await file.readText(), checkPredictionRecord);
}
