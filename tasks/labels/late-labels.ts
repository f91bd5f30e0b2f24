/**
 * Labels that arrive after the prediction (ground truth merged later): each
 * keyed by the prediction id the server returned (tasks/serving/prediction-id.ts),
 * from the labelling UI, `dagwright labels import <file>` (CSV or JSONL of
 * id,label) or `importLabels` here. An import is checked whole before
 * anything is written: an id the prediction log does not hold, or an id
 * given two different labels, refuses the import naming them, and nothing
 * is written; a label already recorded with the same value is skipped.
 *
 *   <store>/feedback/<model>/labels/<n>.jsonl   one import (LateLabel lines), written once
 */
import { DagwrightError } from '../../src/public/errors';
import { withStoreLock } from '../../src/public/store';
import { directoryAt, fileAt, listUnder, type StoreLocation } from '../store';
import { type PredictionRecord, readPredictionLog } from '../serving/prediction-log/prediction-log';

/** One label as stored. */
export interface LateLabel {
  readonly id: string;
  readonly label: number;
  /** When it was recorded. */
  readonly at: string;
  /** Where it came from: a file name, "ui", "api". */
  readonly source: string;
}

/** An import that cannot be taken: says which ids or lines and how to fix them. Nothing was written. */
export class LabelImportError extends DagwrightError {
  constructor(
    message: string,
    readonly kind: 'bad-input' | 'unknown-id' | 'conflict',
  ) {
    super(message);
  }
}

const listed = (ids: readonly string[]) => `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}`;

/** Parses CSV (`id,label`, an optional header) or JSONL (`{"id":..., "label":...}`) text. */
export function parseLabelFile(text: string, classes = 10): { id: string; label: number }[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const out: { id: string; label: number }[] = [];
  lines.forEach((line, i) => {
    if (line === '' || (i === 0 && /^"?id"?\s*,\s*"?label"?$/i.test(line))) return;
    let id: unknown;
    let label: unknown;
    if (line.startsWith('{')) {
      try {
        ({ id, label } = JSON.parse(line) as { id: unknown; label: unknown });
      } catch {
        throw new LabelImportError(`line ${i + 1} is not JSON: ${line.slice(0, 60)}. Each JSONL line is {"id": "<prediction id>", "label": <class>}.`, 'bad-input');
      }
    } else {
      const comma = line.lastIndexOf(',');
      if (comma < 1) throw new LabelImportError(`line ${i + 1} is not "id,label": ${line.slice(0, 60)}.`, 'bad-input');
      id = line.slice(0, comma).replace(/^"|"$/g, '');
      label = Number(line.slice(comma + 1));
    }
    if (typeof id !== 'string' || id === '') throw new LabelImportError(`line ${i + 1} has no prediction id.`, 'bad-input');
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= classes) {
      throw new LabelImportError(`line ${i + 1} (${id}): the label must be a whole number from 0 to ${classes - 1}, got ${JSON.stringify(label)}.`, 'bad-input');
    }
    out.push({ id, label });
  });
  if (out.length === 0) throw new LabelImportError('the file holds no labels: expected lines of "id,label" (CSV) or {"id":..., "label":...} (JSONL).', 'bad-input');
  return out;
}

const labelsDir = (store: StoreLocation, model: string) => directoryAt(store, 'feedback', model, 'labels');

/** Every label recorded for a model, oldest import first. */
export async function readLateLabels(store: StoreLocation, model: string): Promise<LateLabel[]> {
  const numbers = (await listUnder(labelsDir(store, model)))
    .map((n) => /^(\d+)\.jsonl$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const all: LateLabel[] = [];
  for (const n of numbers) {
    const text = await fileAt(store, 'feedback', model, 'labels', `${n}.jsonl`).readText();
    for (const line of text.split('\n')) if (line.trim() !== '') all.push(JSON.parse(line) as LateLabel);
  }
  return all;
}

export interface ImportResult {
  /** Labels written now. */
  readonly added: number;
  /** Labels already recorded with the same value (skipped). */
  readonly alreadyKnown: number;
  /** The file written, if any. */
  readonly file?: string;
}

/** Checks labels against the prediction log and the labels already recorded, then writes the new ones as one import. */
export async function importLabels(store: StoreLocation, model: string, labels: readonly { id: string; label: number }[], source: string, log?: readonly PredictionRecord[]): Promise<ImportResult> {
  // One import at a time per model: two imports racing could otherwise give an id two labels.
  return withStoreLock(store, `feedback/${model}`, () => importUnlocked(store, model, labels, source, log));
}

async function importUnlocked(store: StoreLocation, model: string, labels: readonly { id: string; label: number }[], source: string, log?: readonly PredictionRecord[]): Promise<ImportResult> {
  const known = new Set((log ?? (await readPredictionLog(store, model))).map((r) => r.requestId));
  const unknown = [...new Set(labels.filter((l) => !known.has(l.id)).map((l) => l.id))];
  if (unknown.length > 0) {
    throw new LabelImportError(`${unknown.length} prediction id(s) are not in the prediction log of "${model}": ${listed(unknown)}. Use the ids the server returned (V2: parameters.prediction_ids); nothing was imported.`, 'unknown-id');
  }
  const existing = new Map((await readLateLabels(store, model)).map((l) => [l.id, l.label]));
  const given = new Map<string, number>();
  const conflicts: string[] = [];
  let alreadyKnown = 0;
  const fresh: { id: string; label: number }[] = [];
  for (const l of labels) {
    const before = existing.get(l.id) ?? given.get(l.id);
    if (before === undefined) {
      given.set(l.id, l.label);
      fresh.push(l);
    } else if (before === l.label) alreadyKnown++;
    else conflicts.push(`${l.id} (${before} vs ${l.label})`);
  }
  if (conflicts.length > 0) {
    throw new LabelImportError(`${conflicts.length} prediction id(s) would get a second, different label: ${listed(conflicts)}. Keep one label per id; nothing was imported.`, 'conflict');
  }
  if (fresh.length === 0) return { added: 0, alreadyKnown };
  const at = new Date().toISOString();
  const text = fresh.map((l) => JSON.stringify({ id: l.id, label: l.label, at, source } satisfies LateLabel)).join('\n') + '\n';
  for (let n = (await listUnder(labelsDir(store, model))).length + 1; ; n++) {
    const file = fileAt(store, 'feedback', model, 'labels', `${n}.jsonl`);
    if (await file.writeIfAbsent(text)) return { added: fresh.length, alreadyKnown, file: file.uri };
  }
}
