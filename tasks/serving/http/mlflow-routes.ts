/**
 * MLflow's scoring routes (`mlflow models serve`): GET /ping and
 * POST /invocations with `{"inputs": ...}` or `{"instances": ...}`, answered
 * with `{"predictions": [...]}`. Pixels are FP32 in [0, 1] unless
 * `"params": {"datatype": "UINT8"}` says 0-255.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { InferenceInputError } from '../errors';
import type { ModelServer } from '../model-server';

interface InvocationBody {
  inputs?: unknown;
  instances?: unknown;
  params?: { datatype?: unknown };
}

export function mlflowRoutes(app: FastifyInstance, server: ModelServer): void {
  app.get('/ping', async (_request, reply) => (server.version !== undefined && !server.isStopping ? reply.send('\n') : reply.code(503).send({ error: `model "${server.model}" is not loaded yet.` })));

  app.post<{ Body: InvocationBody }>('/invocations', async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InferenceInputError('expected a JSON object {"inputs": [...]} or {"instances": [...]}.');
    const has = (key: 'inputs' | 'instances') => body[key] !== undefined;
    if (has('inputs') === has('instances')) throw new InferenceInputError('expected exactly one of "inputs" or "instances": a list of images.');
    const datatype = body.params?.datatype ?? 'FP32';
    const decoded = server.adapter.decodeInstances(has('inputs') ? body.inputs : body.instances, String(datatype));
    const id = typeof request.headers['x-request-id'] === 'string' ? request.headers['x-request-id'] : randomUUID();
    const result = await server.infer(decoded, id);
    const { classes } = server.adapter;
    reply.header('x-model-version', String(result.version));
    const predictions = Array.from(result.labels, (label, i) => ({ label, probabilities: Array.from(result.probabilities.subarray(i * classes, (i + 1) * classes)) }));
    return { predictions, model_version: String(result.version) };
  });
}
