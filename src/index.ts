// The task model.
export { Task, WrapperTask, ExternalTask, registerTaskClasses } from './task';
export { taskContext } from './task-context';
export type { TaskContextBase } from './task-context';
export { RequirementsPending } from './dynamic-requirements';
export { retry } from './retry-policy';
export { clone, inherits } from './inherit';
export { copyTarget, moveTarget, TargetTransferError } from './target-transfer';
export { rangeDaily, rangeHourly, RangeTask } from './ranges';
export type { RangeOptions } from './ranges';
export { bulkComplete } from './bulk-complete';
export type { RetryPolicy } from './retry-policy';
export type { TaskOutcome, AnyTask, TaskContext, TaskResources, TaskMount, TaskClass, Requirements, Outputs, InputOf } from './task';
export { param, Param } from './params';
export type { ParamOptions, ParamSpecs, ParamsOf, ParamValue, ValuesOf } from './params';
export { noTracking } from './task-tracking';
export type { Tracking, TrackedValue } from './task-tracking';
export { StoreTracking } from './tracking/store-tracking';
export { RunTracking } from './tracking/run-tracking';
export { TrackingError, trackingLimits } from './tracking/limits';
export { readRunTracking, metricSeries } from './tracking/read-tracking';
export type { RunTracked, AttemptTracking } from './tracking/read-tracking';
export type { MetricPoint } from './tracking/tracking-files';
export { searchRuns } from './tracking/run-search';
export { parseFilter, FilterError } from './tracking/filter';

// Targets and the storage behind them.
export type { Target } from './targets/target';
export type { FileSystem, DirectoryWriter, FolderEntry, WriteBody } from './targets/file-system';
export { FileTarget, LocalTarget } from './targets/file-target';
export { DirectoryTarget, LocalDirectoryTarget } from './targets/directory-target';
export { LocalFileSystem } from './targets/local-file-system';
export { S3FileSystem } from './targets/s3-file-system';
export type { S3FileSystemOptions } from './targets/s3-file-system';
export { S3Target, S3DirectoryTarget } from './targets/s3-target';
export { createS3Client } from './targets/s3-client';
export type { S3ClientSettings } from './targets/s3-client';
export { target, directoryTarget, storePath, registerScheme } from './targets/uri';
export type { TargetOptions, SchemeHandler } from './targets/uri';
export { parseStore } from './store/store';
export type { Store } from './store/store';

// Running: the graph, the scheduler, executors, flow scripts, history.
export { TaskGraph } from './graph';
export { run } from './flow/run';
export type { RunOptions, RunSummary } from './run';
export type { TaskRecord, TaskStatus, SchedulerEvent } from './scheduler';
export { formatSummary } from './summary';
export type { Executor } from './executor';
export { InProcessExecutor } from './executors/in-process';
export { DockerExecutor, ContainerTask } from './executors/docker';
export type { DockerExecutorOptions } from './executors/docker';
export { SwarmExecutor } from './executors/swarm';
export type { SwarmExecutorOptions } from './executors/swarm';
export { runFlow } from './flow/run-flow';
export type { RunFlowOptions } from './flow/run-flow';
export type { FlowDefinition, FlowContext } from './flow/flow';
export type { FlowInvocation } from './flow/executors';
export { ExitCode } from './step/exit-codes';
export { withStoreLock } from './locks/store-lock';
export type { StoreLockOptions } from './locks/store-lock';
export { currentRunOwner, runOwnerState } from './locks/run-owner';
export type { RunOwner } from './locks/run-owner';
export { RunHistory } from './history/run-history';
export type { RunRecord, RunStatus } from './history/run-record';
export { createLogger } from './logger';
export type { LogLevel, LoggerOptions } from './logger';

// Long-running services (a model server, the UI).
export { runInForeground } from './services/service';
export type { Service, ServiceHealth } from './services/service';

// Errors: each says when it is thrown.
export * from './errors';
export {
  DockerUnavailableError,
  ImageNotFoundError,
  ContainerExitError,
  ContainerOutOfMemoryError,
  ContainerTaskNeedsDockerError,
  NoFlowInvocationError,
  RunnerImageBuildError,
} from './executors/docker';
export { SwarmUnavailableError, SwarmLocalStoreError, SwarmLocalTargetsError, SwarmNetworkError, ServiceExitError, ServiceTaskError, SwarmImagePullError, SwarmNodeLostError } from './executors/swarm';
