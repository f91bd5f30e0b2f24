import type { Target } from './targets/target';

/** A scalar a run records: parameters and tags are strings, numbers or booleans. */
export type TrackedValue = string | number | boolean;

/**
 * What a task records about itself for experiment tracking, with MLflow's
 * rules: a parameter is set once, metrics are append-only series, tags may
 * change. Calls never throw for storage trouble (it is logged); they throw a
 * TrackingError for a rule broken by the caller (a parameter set twice to a
 * different value, a key or value over its bound).
 */
export interface Tracking {
  logParam(key: string, value: TrackedValue): void;
  logParams(params: Readonly<Record<string, TrackedValue>>): void;
  /** `step` defaults to the series' next index. */
  logMetric(key: string, value: number, step?: number): void;
  setTag(key: string, value: TrackedValue): void;
  /** Records where a task's file or folder output is, under a name. */
  logArtifact(name: string, target: Target): void;
}

/** For runs without tracking: every call is accepted and dropped. */
export const noTracking: Tracking = {
  logParam() {},
  logParams() {},
  logMetric() {},
  setTag() {},
  logArtifact() {},
};
