/**
 * Errors of drift detection. None is retryable: the same values, data and
 * models give the same answer; each message says what to pass or provide.
 * (Reaching a model server is `TrafficError`, in traffic.ts: retryable.)
 */
import { DagwrightError } from '../../src/public/errors';

/** A drift statistic got values it cannot take (none, NaN, mismatched lengths, a bad level): the caller's mistake. */
export class StatisticInputError extends DagwrightError {}

/** A data source names no known source or transform, or an image outside it; or a source file is not in its format. */
export class DataSourceError extends DagwrightError {}

/**
 * The data a drift check or reference needs is missing or unusable: too few
 * images, no logged predictions, no labels, records of another image size,
 * a model without a penultimate layer, a reference of another model.
 */
export class DriftDataError extends DagwrightError {}
