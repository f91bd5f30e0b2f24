// The container-step layer: what every executor that runs steps in containers shares.
export { ContainerTask, containerTaskStep } from './container-task';
export type { ContainerStep } from './container-task';
export { createDockerClient, dockerHost, pingDocker, statusCode } from './engine-client';
export type { DockerClient } from './engine-client';
export { Labels, labelFilter, stepLabels, currentOwner } from './labels';
export type { ContainerOwner } from './labels';
export { isLocalTarget, localOutputsOf, localTargetsOf, tasksWithLocalTargets } from './local-targets';
export { StepLogSink } from './log-stream';
export { isOrphan, Reaper } from './orphans';
export { stageOutputs } from './output-staging';
export type { StagedOutputs } from './output-staging';
export { Redactor, isSecretKey, redacted } from './redact';
export { defaultPassEnv, passedEnv, stepEnvironment, uidGid } from './step-environment';
export { readStepRequest, runTaskFlag, StepEnv, stepIdentity, stepInvocation } from './step-protocol';
export type { FlowInvocation, StepInvocation, StepRequest, StepRuntime } from './step-protocol';
export * from './errors';
