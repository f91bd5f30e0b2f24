/**
 * MLflow's scoring routes (`mlflow models serve`): GET /ping and /health,
 * GET /version, and POST /invocations with any of MLflow's input fields,
 * `dataframe_split` (what MLflow's client sends for a pandas DataFrame),
 * `dataframe_records`, `inputs` or `instances`, or a `text/csv` body;
 * answered with `{"predictions": [...]}`. Errors on these routes read as
 * MLflow's (`{"error_code", "message"}`, error-bodies.ts).
 *
 * Pixels are FP32 in [0, 1] unless `"params": {"datatype": "UINT8"}` (or,
 * for a CSV body, which has no params, `?datatype=UINT8`) says 0-255.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { DATAFRAME_RECORDS, DATAFRAME_SPLIT, frameItems, recordsFrame, splitFrame } from './dataframe';
import { sendError } from './error-bodies';
import { InferenceInputError } from '../errors';
import type { InferenceService } from './inference-service';
import { INVOCATIONS_ROUTE } from './request-body';
import { SERVER_VERSION } from './v2-routes';

const INPUT_FIELDS = [DATAFRAME_SPLIT, DATAFRAME_RECORDS, 'inputs', 'instances'] as const;
type InputField = (typeof INPUT_FIELDS)[number];

type InvocationBody = Partial<Record<InputField, unknown>> & { params?: { datatype?: unknown } };

/** The items of an invocation, whichever of MLflow's input fields carries them. */
function itemsOf(body: InvocationBody): unknown {
  const given = INPUT_FIELDS.filter((field) => body[field] !== undefined);
  if (given.length !== 1) {
    throw new InferenceInputError(`expected exactly one of the input fields "${INPUT_FIELDS.join('", "')}"${given.length > 1 ? `, got "${given.join('", "')}"` : ''}: a list of images, or a DataFrame of one image per row.`);
  }
  const [field] = given;
  if (field === DATAFRAME_SPLIT) return frameItems(splitFrame(body[field]));
  if (field === DATAFRAME_RECORDS) return frameItems(recordsFrame(body[field]));
  return body[field];
}

export function mlflowRoutes(app: FastifyInstance, server: InferenceService): void {
  const ping = async (request: { url: string }, reply: FastifyReply) =>
    server.version !== undefined && !server.isStopping ? reply.send('\n') : sendError(reply, request.url, 503, `model "${server.model}" is not loaded yet.`);
  app.get('/ping', ping);
  app.get('/health', ping);
  app.get('/version', async (_request, reply) => reply.type('text/plain').send(SERVER_VERSION));

  app.post<{ Body: InvocationBody; Querystring: { datatype?: string } }>(INVOCATIONS_ROUTE, async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InferenceInputError(`expected a JSON object with one of the input fields "${INPUT_FIELDS.join('", "')}", such as {"inputs": [...]}.`);
    }
    const datatype = body.params?.datatype ?? request.query.datatype ?? 'FP32';
    const decoded = server.adapter.decodeInstances(itemsOf(body), String(datatype), server.signature?.input);
    const id = typeof request.headers['x-request-id'] === 'string' ? request.headers['x-request-id'] : randomUUID();
    const result = await server.infer(decoded, id);
    const { classes } = server.adapter;
    reply.header('x-model-version', String(result.version));
    const predictions = Array.from(result.labels, (label, i) => ({ label, probabilities: Array.from(result.probabilities.subarray(i * classes, (i + 1) * classes)) }));
    return { predictions, model_version: String(result.version) };
  });
}
