// dagwright: what a flow author needs. The rest is under documented subpaths
// (package.json `exports`): dagwright/store, dagwright/executors,
// dagwright/tracking, dagwright/runtime, dagwright/errors.

// Tasks and their parameters.
export { Task, WrapperTask, ExternalTask } from './task';
export type { TaskOutcome, AnyTask, TaskContext, TaskResources, TaskMount, TaskClass, Requirements, Outputs, InputOf } from './task';
export { param, Param } from './params';
export type { ParamOptions, ParamSpecs, ParamsOf, ParamValue, ValuesOf } from './params';
export { retry } from './retry-policy';
export type { RetryPolicy } from './retry-policy';
export { clone, inherits } from './inherit';
export { rangeDaily, rangeHourly, RangeTask } from './ranges';
export type { RangeOptions } from './ranges';
export type { Tracking, TrackedValue } from './task-tracking';
export { taskEvent, dependencyEvents } from './task-events';
export type { JsonValue, TaskEvent, TaskEventHandlers, TaskEventType } from './task-events';
export { storeResults, maxResultBytes } from './task-results';
export type { TaskResults } from './task-results';

// Targets: where outputs go.
export type { Target } from './targets/target';
export { FileTarget, LocalTarget } from './targets/file-target';
export { DirectoryTarget, LocalDirectoryTarget } from './targets/directory-target';
export { S3Target, S3DirectoryTarget } from './targets/s3-target';
export { target, directoryTarget, storePath } from './targets/uri';
export type { TargetOptions } from './targets/uri';
export { copyTarget, moveTarget, TargetTransferError } from './target-transfer';
export { parseStore } from './store/store';
export type { Store } from './store/store';

// Running a flow: a script's entry point, the scheduler called directly, a step that is an image and a command.
export { runFlow } from './flow/run-flow';
export type { RunFlowOptions } from './flow/run-flow';
export type { FlowDefinition, FlowContext } from './flow/flow';
export { run } from './flow/run';
export type { RunOptions, RunSummary } from './run';
export { ContainerTask } from './executors/docker';
export { ExitCode } from './step/exit-codes';

// The errors a flow author meets first; every class is in dagwright/errors.
export { DagwrightError, UsageError, ParameterError, TaskFailedError, StorageError } from './errors';
