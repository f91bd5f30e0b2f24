export { Task, WrapperTask } from './task';
export type { AnyTask, TaskContext, TaskResources, TaskMount, TaskClass, Requirements, Outputs, InputOf } from './task';
export { param, Param } from './params';
export type { ParamOptions, ParamSpecs, ParamsOf, ParamValue, ValuesOf } from './params';
export type { Target } from './targets/target';
export type { FileSystem, DirectoryWriter, WriteBody } from './targets/file-system';
export { FileTarget, LocalTarget } from './targets/file-target';
export { DirectoryTarget, LocalDirectoryTarget } from './targets/directory-target';
export { LocalFileSystem } from './targets/local-file-system';
export { S3FileSystem, defaultS3FileSystem, SUCCESS_MARKER } from './targets/s3-file-system';
export type { S3FileSystemOptions } from './targets/s3-file-system';
export { S3Target, S3DirectoryTarget } from './targets/s3-target';
export { createS3Client, defaultS3Client, PATH_STYLE_ENV, DEFAULT_S3_MAX_SOCKETS } from './targets/s3-client';
export type { S3ClientSettings } from './targets/s3-client';
export { parseS3Uri, formatS3Uri, isS3Uri } from './targets/s3-uri';
export type { S3Location } from './targets/s3-uri';
export { target, directoryTarget, storePath, checkStore } from './targets/uri';
export type { TargetOptions } from './targets/uri';
export { TaskGraph } from './graph';
export type { Executor } from './executor';
export { InProcessExecutor } from './executors/in-process';
export {
  DockerExecutor,
  ContainerTask,
  defaultRunnerImage,
  createDockerClient,
  pingDocker,
  pruneContainers,
  Labels as DockerLabels,
  DockerUnavailableError,
  ImageNotFoundError,
  ContainerExitError,
  ContainerOutOfMemoryError,
  ContainerTaskNeedsDockerError,
  NoFlowInvocationError,
} from './executors/docker';
export type { DockerExecutorOptions, DockerClient, PruneOptions, PrunedContainer } from './executors/docker';
export {
  SwarmExecutor,
  defaultSwarmImage,
  pruneServices,
  SwarmUnavailableError,
  SwarmLocalStoreError,
  SwarmLocalTargetsError,
  ServiceExitError,
  ServiceTaskError,
} from './executors/swarm';
export type { SwarmExecutorOptions, PrunedService } from './executors/swarm';
export type { FlowInvocation } from './flow/executors';
export { run } from './run';
export type { RunOptions, RunSummary } from './run';
export type { TaskRecord, TaskStatus, SchedulerEvent } from './scheduler';
export { formatSummary } from './summary';
export { createLogger } from './logger';
export type { LogLevel, LoggerOptions } from './logger';
export { runFlow } from './flow/run-flow';
export type { RunFlowOptions } from './flow/run-flow';
export type { FlowDefinition, FlowContext } from './flow/flow';
export { ExitCode } from './flow/exit-codes';
export { acquireLock, readLock, HeldLock } from './locks/file-lock';
export type { LockHolder, LockOptions, LockState } from './locks/file-lock';
export { TaskLockingExecutor } from './locks/task-locking-executor';
export type { TaskLockingOptions } from './locks/task-locking-executor';
export { lockDirForStore, stateDirForStore } from './locks/state-dir';
export { RunHistory, RunRecorder } from './history/run-history';
export { effectiveStatus } from './history/run-record';
export type { RunRecord, RunStatus, ShownRunStatus, TaskHistory } from './history/run-record';
export * from './errors';
