import * as crypto from 'node:crypto';

/** One-shot `crypto.hash` (Node 20.12+) is about twice as fast as createHash for short inputs; same digest. */
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => (crypto as unknown as { hash(alg: string, data: string): string }).hash('sha256', text)
    : (text) => crypto.createHash('sha256').update(text).digest('hex');
import type { ParamSpecs, ParamValue } from './params';

/** The significant parameters in name order: what identifies a task besides its family. */
export function significantParams(specs: ParamSpecs, values: Record<string, ParamValue>): [string, ParamValue][] {
  return Object.keys(specs)
    .filter((name) => specs[name].significant)
    .sort()
    .map((name) => [name, values[name]]);
}

/** Scalars as themselves, lists and objects as JSON. */
const summaryText = (value: ParamValue): string => (typeof value === 'object' ? JSON.stringify(value) : String(value));

/**
 * `Family_summary_hash`: the summary is the first few parameter values, for
 * people; the hash covers every significant parameter and the task version,
 * for uniqueness. Same family, parameters and version: same id.
 */
export function taskId(family: string, specs: ParamSpecs, values: Record<string, ParamValue>, version: string): string {
  const significant = significantParams(specs, values);
  const hash = sha256Hex(JSON.stringify({ family, version, params: significant })).slice(0, 10);
  const summary = Object.keys(specs)
    .filter((name) => specs[name].significant)
    .slice(0, 3)
    .map((name) => summaryText(values[name]).replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 16))
    .join('_');
  return summary ? `${family}_${summary}_${hash}` : `${family}_${hash}`;
}
