/**
 * Reading files a store holds without trusting them: another process, an
 * older version, a full disk or a person may have left them truncated or of
 * the wrong shape. Every reader of a stored format parses through here, so a
 * damaged file is reported the same way everywhere (CLI, UI, server,
 * monitor): which file, what is wrong with it, how to repair it.
 */
import { DagwrightError } from '../errors';
import type { FileTarget } from '../targets/file-target';

/** Says what is wrong with a parsed value (`"tests" is not a list`), or undefined when it has the expected shape. */
export type ShapeCheck = (value: unknown) => string | undefined;

/** A stored file cannot be read as its format: unparsable or of the wrong shape. Retrying does not help; repairing the file does. */
export class DamagedFileError extends DagwrightError {
  override readonly retryable = false;

  constructor(
    readonly uri: string,
    readonly problem: string,
    readonly repair: string,
    options?: { cause?: unknown },
  ) {
    super(`${uri} is damaged: ${problem}. ${repair}`, options);
  }
}

/** Parses JSON a store held; throws `DamagedFileError` naming `uri` when it does not parse or fails `check`. */
export function parseStoredJson<T>(text: string | Uint8Array, uri: string, check: ShapeCheck, repair: string): T {
  const source = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    const what = source.trim() === '' ? 'it is empty' : `it is not valid JSON (${(err as Error).message}; truncated by an interrupted write?)`;
    throw new DamagedFileError(uri, what, repair, { cause: err });
  }
  const problem = check(value);
  if (problem !== undefined) throw new DamagedFileError(uri, problem, repair);
  return value as T;
}

/** A stored JSON file, checked; undefined when the file is not there. */
export async function readStoredJson<T>(file: FileTarget, check: ShapeCheck, repair: string): Promise<T | undefined> {
  if (!(await file.exists())) return undefined;
  return parseStoredJson<T>(await file.readBytes(), file.uri, check, repair);
}

/** The records of a JSON-lines file that parse and pass `check`, and how many lines did not (a half-written last line, say). */
export function parseJsonLines<T>(text: string, check: ShapeCheck): { records: T[]; damaged: number } {
  const records: T[] = [];
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      damaged++;
      continue;
    }
    if (check(value) === undefined) records.push(value as T);
    else damaged++;
  }
  return { records, damaged };
}

/** Shape checks for the common cases, phrased for the messages above. */
export const shape = {
  object(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  },
  /** The first field of `fields` that `value` lacks or has of another type, as a problem; undefined when all fit. */
  fields(value: unknown, fields: Readonly<Record<string, 'string' | 'number' | 'boolean' | 'object' | 'array'>>): string | undefined {
    if (!shape.object(value)) return `expected a JSON object, found ${Array.isArray(value) ? 'a list' : value === null ? 'null' : `a ${typeof value}`}`;
    for (const [name, kind] of Object.entries(fields)) {
      const v = value[name];
      const fits = kind === 'array' ? Array.isArray(v) : kind === 'object' ? shape.object(v) : typeof v === kind;
      if (!fits) return v === undefined ? `it has no "${name}"` : `"${name}" is not ${kind === 'array' || kind === 'object' ? `an ${kind}` : `a ${kind}`}`;
    }
    return undefined;
  },
};
