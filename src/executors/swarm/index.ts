export { SwarmExecutor, defaultSwarmImage, defaultSwarmPassEnv } from './swarm-executor';
export type { SwarmExecutorOptions } from './swarm-executor';
export { serviceOptions, serviceName, modeForEngine } from './service-spec';
export type { ServiceStepSpec, ServiceCreateBody } from './service-spec';
export { pathInImage, bakedProjectDir } from './image-path';
export { assertRunnableOnSwarm, tasksWithLocalTargets, localTargetsOf } from './local-targets';
export { pruneServices } from './prune';
export type { PrunedService } from './prune';
export * from './errors';
