/**
 * The HTTP side of the model server: a fastify app with the bearer-token
 * check, request metrics, an error body for every failure in the dialect of
 * the route's clients (never a stack trace), 405 with `Allow` and OPTIONS,
 * `/metrics`, and the route modules (Open Inference Protocol V2, MLflow
 * scoring). The common infer request is answered in front of the app, on
 * its http server, with the same reading, answer, errors and metrics
 * (hot-infer-route.ts).
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { tokenMatches } from './bearer-token';
import { errorBody, plainJsonType, sendError } from './error-bodies';
import { HotInferRoute, serverWithHotRoute } from './hot-infer-route';
import { mlflowRoutes } from './mlflow-routes';
import { addBodyReading } from './request-body';
import { describeRequestError } from './request-errors';
import { OPTIONS_ROUTE, RouteTable } from './route-table';
import type { InferenceService } from './inference-service';
import { v2Routes } from './v2-routes';

/** Routes anyone may call: orchestrators and load balancers probe them without credentials, and browsers ask OPTIONS without them. */
const OPEN_ROUTES = new Set(['/v2/health/live', '/v2/health/ready', '/ping', '/health', OPTIONS_ROUTE]);

export interface HttpAppOptions {
  readonly maxBodyBytes: number;
  /** The host listened on; on `localhost` the hot infer route stays off (see below). */
  readonly host?: string;
}

export function buildHttpApp(server: InferenceService, options: HttpAppOptions): FastifyInstance {
  // ignoreTrailingSlash: clients joining a base URL ask `/v2/` as often as `/v2`.
  // The common infer request is answered before fastify (hot-infer-route.ts); the rest reaches the app.
  let hot: HotInferRoute | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: options.maxBodyBytes,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    keepAliveTimeout: 10_000,
    routerOptions: { ignoreTrailingSlash: true },
    // fastify listens on every address of `localhost` (127.0.0.1 and ::1) only on a server it makes itself.
    ...(options.host === 'localhost' ? {} : { serverFactory: serverWithHotRoute(() => hot) }),
  });
  const { metrics } = server;
  const routes = new RouteTable(app);
  hot = new HotInferRoute(server, options.maxBodyBytes, addBodyReading(app, options.maxBodyBytes));

  // Hooks take callbacks, not async functions: each async hook is a promise and a microtask turn every request.
  const token = server.token;
  if (token !== undefined) {
    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      if (OPEN_ROUTES.has(request.routeOptions.url ?? '') || tokenMatches(request.headers.authorization, token)) return done();
      reply.header('www-authenticate', 'Bearer');
      sendError(reply, request.url, 401, 'this server needs a token: send the header "Authorization: Bearer <token>" with the token it was started with.');
    });
  }

  app.addHook('onSend', (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
    // Responses sent while stopping close their connection, so keep-alive clients do not hold the process open.
    if (server.closesConnections) reply.header('connection', 'close');
    plainJsonType(reply);
    done(null, payload);
  });

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, message } = describeRequestError(err, options.maxBodyBytes);
    if (status >= 500) server.logger.error({ err, url: request.url }, `request failed: ${err.message}`);
    return reply.code(status).send(errorBody(request.url, status, status >= 500 ? `internal error: ${message}` : message));
  });

  const noRoute = (request: FastifyRequest) =>
    `no route ${request.method} ${request.url.split('?')[0]}: see GET /v2, GET /v2/models/${server.model}, POST /v2/models/${server.model}/infer, POST /invocations.`;
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => routes.answerUnmatched(request, reply, noRoute(request)));
  app.options(OPTIONS_ROUTE, async (request, reply) => routes.answerOptions(request, reply, noRoute(request)));

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  v2Routes(app, server);
  mlflowRoutes(app, server);
  return app;
}
