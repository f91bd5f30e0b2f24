import { DagwrightError } from '../errors';
import type { TrackedValue } from '../task-tracking';

/** MLflow's bounds (mlflow/utils/validation.py): keys, parameter values, tag values. */
export const trackingLimits = {
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 8000,
  artifactNameLength: 250,
} as const;

/** A tracking call broke a rule: a parameter set twice to different values, a bad key, a value over its bound. Not retryable. */
export class TrackingError extends DagwrightError {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
  }
}

// MLflow: alphanumerics, underscores, dashes, periods, spaces and slashes; no path tricks.
const keyPattern = /^[A-Za-z0-9_\-. /]+$/;

/** Throws a TrackingError unless `key` is a key MLflow would accept. */
export function checkKey(kind: string, key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new TrackingError(`${kind} key must be a non-empty string, got ${JSON.stringify(key)}.`, String(key));
  if (key.length > trackingLimits.keyLength) {
    throw new TrackingError(`${kind} key "${key.slice(0, 40)}..." has ${key.length} characters; the limit is ${trackingLimits.keyLength}.`, key);
  }
  if (!keyPattern.test(key) || key.split('/').some((part) => part === '..' || part === '.') || key.startsWith('/')) {
    throw new TrackingError(`${kind} key "${key}" is not valid: use letters, digits, '_', '-', '.', ' ' and '/' (no "..", no leading '/').`, key);
  }
  return key;
}

/** The stored form of a parameter or tag value: a string, as MLflow keeps them, within `limit`. */
export function checkValue(kind: string, key: string, value: unknown, limit: number): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TrackingError(`${kind} "${key}" must be a string, number or boolean, got ${value === null ? 'null' : typeof value}.`, key);
  }
  const text = String(value as TrackedValue);
  if (text.length > limit) throw new TrackingError(`${kind} "${key}" has a value of ${text.length} characters; the limit is ${limit}.`, key);
  return text;
}

/** A metric value: any number (NaN and infinities are kept as MLflow keeps them). */
export function checkMetric(key: string, value: unknown, step: unknown): void {
  if (typeof value !== 'number') throw new TrackingError(`metric "${key}" must be a number, got ${typeof value}.`, key);
  if (step !== undefined && (typeof step !== 'number' || !Number.isSafeInteger(step))) {
    throw new TrackingError(`metric "${key}": step must be an integer, got ${JSON.stringify(step)}.`, key);
  }
}
