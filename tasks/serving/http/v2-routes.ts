/**
 * Open Inference Protocol (V2) REST routes, as KServe, Seldon Core 2 and
 * MLServer speak them, with the binary tensor data extension
 * (binary-tensors.ts); registry versions are the protocol's versions.
 */
import { predictionIds } from '../prediction-id';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { BINARY_TENSOR_EXTENSION, binaryByDefault, encodeInferResponse, INFERENCE_HEADER_LENGTH, isObject, type Json, outputIsBinary, type ResponseTensor } from './binary-tensors';
import { InferenceInputError, ModelNotServedError, ModelNotReadyError } from '../errors';
import { LABEL_OUTPUT, PROBABILITIES_OUTPUT } from '../runtime/image-adapter';
import type { RequestTensor } from '../runtime/model-adapter';
import type { Inference, InferenceService } from './inference-service';

/** The server's version in `GET /v2` and MLflow's `GET /version`. */
export const SERVER_VERSION = '0.1.0';

/** The infer routes, as request metrics name them. */
export const INFER_ROUTE = '/v2/models/:name/infer';
export const VERSION_INFER_ROUTE = '/v2/models/:name/versions/:version/infer';

export interface ModelParams {
  name: string;
  version?: string;
}

interface InferBody {
  id?: unknown;
  inputs?: unknown;
  outputs?: unknown;
  parameters?: unknown;
}

/** The version a route names must be the one served; a route without one takes whatever is served. */
function checkModel(server: InferenceService, params: ModelParams): void {
  if (params.name !== server.model) throw new ModelNotServedError(`model "${params.name}" is not served here; this server serves "${server.model}".`);
  if (params.version === undefined) return;
  const served = server.version;
  if (served === undefined) throw new ModelNotReadyError(server.model);
  if (params.version !== String(served)) {
    throw new ModelNotServedError(`version "${params.version}" of "${server.model}" is not served here; this server serves version ${served} (GET /v2/models/${server.model}).`);
  }
}

/** The outputs a request asks for (all by default), each with whether it goes back binary. */
function requestedOutputs(body: InferBody): Map<string, boolean> {
  const all = [PROBABILITIES_OUTPUT, LABEL_OUTPUT];
  const byDefault = binaryByDefault(body as Record<string, unknown>);
  const { outputs } = body;
  if (outputs === undefined) return new Map(all.map((name) => [name, byDefault]));
  if (!Array.isArray(outputs)) throw new InferenceInputError(`"outputs" must be a list such as [{"name": "${LABEL_OUTPUT}"}].`);
  const wanted = new Map<string, boolean>();
  outputs.forEach((output: unknown, i) => {
    const name = typeof output === 'object' && output !== null ? (output as { name?: unknown }).name : undefined;
    if (typeof name !== 'string' || !all.includes(name)) throw new InferenceInputError(`output ${JSON.stringify(name) ?? 'without a name'} does not exist: this model's outputs are "${all.join('", "')}".`);
    wanted.set(name, outputIsBinary(output as Record<string, unknown>, i, byDefault));
  });
  return wanted;
}

function responseOutputs(result: Inference, count: number, classes: number, wanted: Map<string, boolean>): ResponseTensor[] {
  const outputs: ResponseTensor[] = [];
  const probabilities = wanted.get(PROBABILITIES_OUTPUT);
  const label = wanted.get(LABEL_OUTPUT);
  if (probabilities !== undefined) outputs.push({ name: PROBABILITIES_OUTPUT, datatype: 'FP32', shape: [count, classes], values: result.probabilities, binary: probabilities });
  if (label !== undefined) outputs.push({ name: LABEL_OUTPUT, datatype: 'INT64', shape: [count], values: result.labels, binary: label });
  return outputs;
}

/**
 * Metadata `parameters` from the served version's signature, when it has one: its class labels (by output
 * column) and the model's own input, which the server fills from the request's image tensor.
 */
function signatureParameters(server: InferenceService): { parameters?: object } {
  const signature = server.signature;
  if (!signature) return {};
  const { name, shape, datatype, layout } = signature.input;
  return { parameters: { class_labels: signature.classLabels, model_input: { name, shape: [-1, ...shape], datatype: datatype === 'uint8' ? 'UINT8' : 'FP32', layout } } };
}

function notReady(reply: FastifyReply, server: InferenceService, body: object): FastifyReply {
  return reply.code(503).send({ ...body, error: `model "${server.model}" is not loaded yet.` });
}

/** An infer answer: the body (a JSON object, or binary tensors after a JSON header of `headerLength` bytes) and the version that answered. */
export interface InferAnswer {
  readonly version: string;
  readonly body: Json | Buffer;
  readonly headerLength?: number;
}

/** Answers an infer request to the route with `params` whose body was read as `body` (request-body.ts); throws a `ServeRequestError` for what it cannot answer. */
export async function answerInfer(server: InferenceService, params: ModelParams, body: unknown): Promise<InferAnswer> {
  checkModel(server, params);
  if (!isObject(body)) throw new InferenceInputError('expected a JSON object {"id"?, "inputs": [{"name", "shape", "datatype", "data"}], "outputs"?}.');
  const wanted = requestedOutputs(body);
  const decoded = server.adapter.decodeTensors(body.inputs as RequestTensor[], server.signature?.input);
  const id = typeof body.id === 'string' && body.id !== '' ? body.id : randomUUID();
  const result = await server.infer(decoded, id);
  // Each image's prediction id, for labels that arrive later (dagwright labels import).
  const head = { model_name: server.model, model_version: String(result.version), id, parameters: { prediction_ids: predictionIds(id, decoded.count) } };
  const answer = encodeInferResponse(head, responseOutputs(result, decoded.count, server.adapter.classes, wanted));
  return { version: String(result.version), ...answer };
}

export function v2Routes(app: FastifyInstance, server: InferenceService): void {
  const ready = () => server.version !== undefined && !server.isStopping;
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_request, reply) => (ready() ? { ready: true } : notReady(reply, server, { ready: false })));
  app.get('/v2', async () => ({ name: 'dagwright', version: SERVER_VERSION, extensions: [BINARY_TENSOR_EXTENSION] }));

  const metadata = async (request: { params: ModelParams }) => {
    checkModel(server, request.params);
    if (server.version === undefined) throw new ModelNotReadyError(server.model);
    const { adapter } = server;
    return { name: server.model, versions: [String(server.version)], platform: server.platform, inputs: adapter.inputs, outputs: adapter.outputs, ...signatureParameters(server) };
  };
  app.get<{ Params: ModelParams }>('/v2/models/:name', metadata);
  app.get<{ Params: ModelParams }>('/v2/models/:name/versions/:version', metadata);

  const modelReady = async (request: { params: ModelParams }, reply: FastifyReply) => {
    checkModel(server, request.params);
    return ready() ? { name: server.model, ready: true, version: String(server.version) } : notReady(reply, server, { name: server.model, ready: false });
  };
  app.get<{ Params: ModelParams }>('/v2/models/:name/ready', modelReady);
  app.get<{ Params: ModelParams }>('/v2/models/:name/versions/:version/ready', modelReady);

  const infer = async (request: { params: ModelParams; body: unknown }, reply: FastifyReply) => {
    const answer = await answerInfer(server, request.params, request.body);
    reply.header('x-model-version', answer.version);
    if (answer.headerLength !== undefined) reply.header('content-type', 'application/octet-stream').header(INFERENCE_HEADER_LENGTH, String(answer.headerLength));
    return answer.body;
  };
  app.post<{ Params: ModelParams }>(INFER_ROUTE, infer);
  app.post<{ Params: ModelParams }>(VERSION_INFER_ROUTE, infer);
}
