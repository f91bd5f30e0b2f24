/**
 * Serving: the model server (a `Service`), its deployment task and the
 * prediction log it writes. The library entry points for serving live here,
 * not in `src/index.ts`, because the library does not import `tasks/`.
 *
 *   import { serveModel } from 'dagwright/tasks/serving';
 *   const server = await serveModel({ store: './data' });   // champion of mnist-digits on 127.0.0.1:8080
 *   ...
 *   await server.stop();
 */
import { createLogger, runInForeground } from '../../src/public/runtime';
import { ModelServer, type ModelServerOptions } from './model-server';

/** Starts a model server (see `ModelServerOptions`); resolves once it listens and serves a version. */
export async function serveModel(options: ModelServerOptions): Promise<ModelServer> {
  const server = new ModelServer(options);
  await server.start();
  return server;
}

/** Runs a model server until SIGINT/SIGTERM (what `dagwright serve` does); resolves with the exit code. */
export function serveInForeground(options: ModelServerOptions): Promise<number> {
  const server = new ModelServer(options);
  return runInForeground(server, options.logger ?? server.logger);
}

export { ModelServer, DEFAULT_ALIAS, DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, TOKEN_ENV } from './model-server';
export type { ModelServerOptions } from './model-server';
export type { Inference, InferenceService } from './http/inference-service';
export { DEFAULT_BATCHING } from './runtime/adaptive-batcher';
export type { BatchingOptions } from './runtime/adaptive-batcher';
export type { ModelAdapter, TensorMetadata, DecodedInputs } from './runtime/model-adapter';
export { imageClassifierAdapter } from './runtime/image-adapter';
export { PredictionLogWriter, readPredictionLog, recordPixels, predictionLogLocation } from './prediction-log/prediction-log';
export type { PredictionRecord, PredictionEntry, PredictionBatch, PredictionLogOptions, PredictionLogStats, ReadPredictionLogOptions } from './prediction-log/prediction-log';
export { ServeRequestError, InferenceInputError, ModelNotServedError, ModelNotReadyError, ModelLoadError, ServeOptionError, PredictorError, ModelOutputError, ServerStartTimeoutError } from './errors';
export { DeployModelServer, serverReadyAt } from './deploy/deploy-task';
export type { DeployParams } from './deploy/deploy-task';
export { DeploymentError, SERVER_IMAGE, MODEL_SERVER_KIND, ServerLabels } from './deploy/server-deployment-spec';
export type { ServerDeploymentSpec } from './deploy/server-deployment-spec';
export { ensureDockerServer, removeDockerServers, serverContainers } from './deploy/docker-deployment';
export type { DockerServerSpec, DeployedServer } from './deploy/docker-deployment';
export { ensureSwarmServer, removeSwarmServers, serverServices, swarmServiceName } from './deploy/swarm-deployment';
export type { SwarmServerSpec, DeployedService } from './deploy/swarm-deployment';
export { INFERENCE_HEADER_LENGTH, BINARY_TENSOR_EXTENSION } from './http/binary-tensors';
