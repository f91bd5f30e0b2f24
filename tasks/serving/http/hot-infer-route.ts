/**
 * The hot path of the infer routes: the common request, answered on Node's
 * http server directly, in front of fastify (its `serverFactory`). At 64
 * connections with one image a request, fastify's routing, hooks, body
 * parser pipeline and reply cost a sizeable share of the server's CPU a
 * request: measured (bench/serve.ts, ONNX, autocannon, consecutive runs,
 * load 1-2) 254 us of server CPU a request here against 305 through fastify,
 * and 4,635 req/s against 3,794; under heavier load the difference shrinks
 * into the noise (3-19% less CPU side by side at load 3-7).
 *
 * Taken here: POST /v2/models/<served model>/infer (or .../versions/<v>/infer),
 * no query, a Content-Length within the body limit, no Content-Encoding,
 * JSON (`application/json` or no Content-Type) or binary tensors
 * (`application/octet-stream` or Inference-Header-Content-Length), the
 * right token when the server has one, the server not stopping. Everything
 * else (gzip, chunked bodies, odd media types, a missing token, a trailing
 * slash...) goes to fastify untouched and is answered there. What is taken
 * is answered as fastify would: the same body reading (request-body.ts's
 * readers), the same answer (v2-routes.ts `answerInfer`), the same error
 * bodies and statuses (request-errors.ts), the same request metrics.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { FastifyServerOptions } from 'fastify';
import { tokenMatches } from './bearer-token';
import { INFERENCE_HEADER_LENGTH, type ParseJson, readBinaryBody } from './binary-tensors';
import { errorBody } from './error-bodies';
import type { InferenceService } from './inference-service';
import { readJsonInferBody } from './json-tensor-data';
import { describeRequestError } from './request-errors';
import { answerInfer, type InferAnswer, INFER_ROUTE, type ModelParams, VERSION_INFER_ROUTE } from './v2-routes';

/** fastify's default `maxParamLength`: a longer version is left to fastify (it answers 404). */
const MAX_PARAM_LENGTH = 100;

interface HotRequest {
  readonly params: ModelParams;
  /** The route as request metrics name it. */
  readonly route: string;
  readonly binary: boolean;
}

/** The request body's bytes; rejects when the client goes away before sending them all. */
function readBody(request: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length)));
    request.once('error', reject);
    request.once('close', () => request.complete || reject(new Error('the client closed the request before sending its body')));
  });
}

export class HotInferRoute {
  private readonly modelPath: string;

  constructor(
    private readonly server: InferenceService,
    private readonly maxBodyBytes: number,
    private readonly parseJson: ParseJson,
  ) {
    this.modelPath = `/v2/models/${server.model}/`;
  }

  /** Starts answering `request` and returns true, or returns false having touched nothing (fastify answers it). */
  take(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'POST') return false;
    const hot = this.hotRequest(request);
    if (!hot) return false;
    void this.answer(request, response, hot);
    return true;
  }

  private hotRequest(request: IncomingMessage): HotRequest | undefined {
    const url = request.url ?? '';
    if (!url.startsWith(this.modelPath)) return undefined;
    const { headers } = request;
    const length = Number(headers['content-length']);
    if (!(length > 0 && length <= this.maxBodyBytes) || headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return undefined;
    const type = headers['content-type'];
    const binary = headers[INFERENCE_HEADER_LENGTH] !== undefined || type === 'application/octet-stream';
    if (!binary && type !== undefined && type !== 'application/json') return undefined;
    const { server } = this;
    if (server.isStopping || (server.token !== undefined && !tokenMatches(headers.authorization, server.token))) return undefined;
    const rest = url.slice(this.modelPath.length);
    if (rest === 'infer') return { params: { name: server.model }, route: INFER_ROUTE, binary };
    const version = /^versions\/([^/?%]+)\/infer$/.exec(rest)?.[1];
    if (version === undefined || version.length > MAX_PARAM_LENGTH) return undefined;
    return { params: { name: server.model, version }, route: VERSION_INFER_ROUTE, binary };
  }

  private async answer(request: IncomingMessage, response: ServerResponse, { params, route, binary }: HotRequest): Promise<void> {
    const start = performance.now();
    let body: Buffer;
    try {
      body = await readBody(request, Number(request.headers['content-length']));
    } catch {
      return void response.destroy(); // nobody to answer
    }
    let status = 200;
    // As fastify does, a body that could not be read is answered with `Connection: close`; a request refused after reading is not.
    let unread = true;
    try {
      const parsed = binary ? readBinaryBody(body, request.headers[INFERENCE_HEADER_LENGTH], this.parseJson) : readJsonInferBody(body, this.parseJson);
      unread = false;
      this.send(response, await answerInfer(this.server, params, parsed));
    } catch (err) {
      status = this.sendError(request, response, err, unread);
    }
    const { metrics } = this.server;
    metrics.requests.inc({ route, method: 'POST', status: String(status) });
    metrics.latency.observe({ route }, (performance.now() - start) / 1000);
  }

  private send(response: ServerResponse, answer: InferAnswer): void {
    if (Buffer.isBuffer(answer.body)) {
      this.write(response, 200, answer.body, ['content-type', 'application/octet-stream', INFERENCE_HEADER_LENGTH, String(answer.headerLength), 'x-model-version', answer.version]);
    } else {
      this.write(response, 200, JSON.stringify(answer.body), ['content-type', 'application/json', 'x-model-version', answer.version]);
    }
  }

  /** Answers as the app's error handler does; returns the status. */
  private sendError(request: IncomingMessage, response: ServerResponse, err: unknown, closeConnection: boolean): number {
    const { status, message } = describeRequestError(err, this.maxBodyBytes);
    if (status >= 500) this.server.logger.error({ err, url: request.url }, `request failed: ${(err as Error).message}`);
    this.write(response, status, JSON.stringify(errorBody(request.url ?? '', status, status >= 500 ? `internal error: ${message}` : message)), ['content-type', 'application/json'], closeConnection);
    return status;
  }

  /** One header block and the body in one write; responses sent while stopping close their connection, as the app's do. */
  private write(response: ServerResponse, status: number, body: string | Buffer, headers: string[], closeConnection = false): void {
    headers.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
    if (closeConnection || this.server.closesConnections) headers.push('connection', 'close');
    response.writeHead(status, headers).end(body);
  }
}

/**
 * fastify's `serverFactory`: a node:http server on which the hot route (once
 * the app has made it: `route()`) takes what it answers, and fastify's
 * handler gets everything else; with the server settings fastify gives the
 * servers it makes itself.
 */
export function serverWithHotRoute(route: () => HotInferRoute | undefined) {
  return (handler: (request: IncomingMessage, response: ServerResponse) => void, options: FastifyServerOptions): Server => {
    const server = createServer((request, response) => {
      if (!route()?.take(request, response)) handler(request, response);
    });
    server.keepAliveTimeout = options.keepAliveTimeout ?? server.keepAliveTimeout;
    server.requestTimeout = options.requestTimeout ?? server.requestTimeout;
    server.setTimeout(options.connectionTimeout ?? 0);
    if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  };
}
