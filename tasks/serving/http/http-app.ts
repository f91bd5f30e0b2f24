/**
 * The HTTP side of the model server: a fastify app with the bearer-token
 * check, request metrics, `{"error": ...}` for every failure (never a stack
 * trace), `/metrics`, and the route modules (Open Inference Protocol V2,
 * MLflow scoring).
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { INFERENCE_HEADER_LENGTH, type ParseJson, readBinaryBody } from './binary-tensors';
import { readJsonInferBody } from './json-tensor-data';
import { ServeRequestError } from '../errors';
import { mlflowRoutes } from './mlflow-routes';
import type { ModelServer } from '../model-server';
import { v2Routes } from './v2-routes';

/** Routes anyone may call: orchestrators and load balancers probe them without credentials. */
const OPEN_ROUTES = new Set(['/v2/health/live', '/v2/health/ready', '/ping']);

export interface HttpAppOptions {
  readonly maxBodyBytes: number;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const NOT_JSON = 'the request body must be JSON: send Content-Type: application/json (or, to POST .../infer, binary tensors after a JSON header whose length in bytes is in Inference-Header-Content-Length).';

/** fastify's own JSON parser (prototype-poisoning checks, its error codes), as a function; it answers synchronously. */
function fastifyJson(app: FastifyInstance): ParseJson {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (text) => {
    let result: unknown;
    let failure: Error | null = null;
    parse(undefined as never, typeof text === 'string' ? text : text.toString('utf8'), (err, body) => {
      failure = err;
      result = body;
    });
    if (failure) throw failure;
    return result;
  };
}

const isOctetStream = (request: FastifyRequest) => /^application\/octet-stream\s*(;|$)/i.test(request.headers['content-type'] ?? '');

/**
 * A request body as the routes take it. Infer routes also take binary
 * tensors: any content type with Inference-Header-Content-Length (Triton's
 * Python client sends none), or application/octet-stream; and read JSON
 * `data` lists straight into typed arrays. Other bodies must be JSON (415).
 */
function readBody(request: FastifyRequest, body: Buffer, isJson: boolean, parseJson: ParseJson): unknown {
  if (request.is404) return undefined;
  const infer = request.routeOptions.url?.endsWith('/infer') === true;
  const headerLength = request.headers[INFERENCE_HEADER_LENGTH];
  if (infer && (headerLength !== undefined || isOctetStream(request))) return readBinaryBody(body, headerLength, parseJson);
  if (!isJson) throw new ServeRequestError(415, NOT_JSON);
  return infer ? readJsonInferBody(body, parseJson) : parseJson(body);
}

function addBodyParsers(app: FastifyInstance): void {
  const parseJson = fastifyJson(app);
  // Only these: a text/plain body is refused (415) rather than read as a string. Bodies are read as bytes, within bodyLimit (413).
  app.removeAllContentTypeParsers();
  for (const [type, isJson] of [['application/json', true], ['*', false]] as const) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (request, body, done) => {
      try {
        done(null, readBody(request, body as Buffer, isJson, parseJson));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
  }
}

/** What fastify's own errors mean to a client, in the server's words. */
function describeFastifyError(err: FastifyError, maxBodyBytes: number): { status: number; message: string } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `the request body is over the limit of ${maxBodyBytes} bytes: send fewer images per request, or start the server with a larger --max-body-mb.` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: NOT_JSON };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'the request body is empty: expected a JSON object such as {"inputs": [...]}.' };
    default:
      if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        return { status: 400, message: `the request body is not valid JSON (${err.message}): expected a JSON object such as {"inputs": [...]}.` };
      }
      return { status: err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500, message: err.message };
  }
}

export function buildHttpApp(server: ModelServer, options: HttpAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: options.maxBodyBytes, forceCloseConnections: 'idle', return503OnClosing: true, keepAliveTimeout: 10_000 });
  const { metrics } = server;
  addBodyParsers(app);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const token = server.token;
    if (token === undefined || OPEN_ROUTES.has(request.routeOptions.url ?? '')) return;
    if (!tokenMatches(request.headers.authorization, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'this server needs a token: send the header "Authorization: Bearer <token>" with the token it was started with.' });
    }
  });

  // Responses sent while stopping close their connection, so keep-alive clients do not hold the process open.
  app.addHook('onSend', async (_request: FastifyRequest, reply: FastifyReply) => {
    if (server.closesConnections) reply.header('connection', 'close');
  });

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ServeRequestError) return reply.code(err.status).send({ error: err.message });
    const { status, message } = describeFastifyError(err, options.maxBodyBytes);
    if (status >= 500) server.logger.error({ err, url: request.url }, `request failed: ${err.message}`);
    return reply.code(status).send({ error: status >= 500 ? `internal error: ${message}` : message });
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}: see GET /v2, GET /v2/models/${server.model}, POST /v2/models/${server.model}/infer, POST /invocations.` }),
  );

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  v2Routes(app, server);
  mlflowRoutes(app, server);
  return app;
}
