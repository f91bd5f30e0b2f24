export { DockerExecutor, defaultRunnerImage, defaultPassEnv } from './docker-executor';
export type { DockerExecutorOptions } from './docker-executor';
export { pruneContainers } from './prune';
export type { PruneOptions, PrunedContainer } from './prune';
export { containerOptions } from './container-spec';
export type { StepSpec } from './container-spec';
export { ensureRunnerImage, RunnerImageBuildError } from './runner-image';
// The shared container-step layer, re-exported for callers that know only this folder.
export { ContainerTask, createDockerClient, dockerHost, pingDocker, Labels } from '../container';
export type { DockerClient } from '../container';
export * from '../container/errors';
