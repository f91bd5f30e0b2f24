/**
 * The executors entry point (`dagwright/executors`): where steps run, for
 * code that builds an executor itself instead of `runFlow`'s `--executor`.
 */
export type { Executor } from '../executor';
export type { FlowInvocation } from '../flow/executors';
export { InProcessExecutor } from '../executors/in-process';
export { DockerExecutor, type DockerExecutorOptions } from '../executors/docker';
export { SwarmExecutor, type SwarmExecutorOptions } from '../executors/swarm';
/** Swarm secrets as files: the S3 credentials as an AWS credentials file (the model-server deployment mounts them as the steps do). */
export { credentialsAsFile, secretFile, secretPath, type SecretMount } from '../executors/swarm';
export {
  DockerUnavailableError,
  ImageNotFoundError,
  ContainerExitError,
  ContainerOutOfMemoryError,
  ContainerTaskNeedsDockerError,
  NoFlowInvocationError,
  RunnerImageBuildError,
} from '../executors/docker';
export {
  SwarmUnavailableError,
  SwarmLocalStoreError,
  SwarmLocalTargetsError,
  SwarmNetworkError,
  ServiceExitError,
  ServiceTaskError,
  SwarmImagePullError,
  SwarmNodeLostError,
} from '../executors/swarm';
