/**
 * The tracking entry point (`dagwright/tracking`): experiment tracking kept
 * in a store (what `ctx.tracking` writes) and its readers and search.
 */
export { noTracking, type Tracking, type TrackedValue } from '../task-tracking';
export { StoreTracking } from '../tracking/store-tracking';
export { RunTracking } from '../tracking/run-tracking';
export { TrackingError, trackingLimits } from '../tracking/limits';
export { readRunTracking, metricSeries, type RunTracked, type AttemptTracking } from '../tracking/read-tracking';
export type { MetricPoint } from '../tracking/tracking-files';
export { searchRuns } from '../tracking/run-search';
export { parseFilter, FilterError } from '../tracking/filter';
