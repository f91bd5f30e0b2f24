/**
 * Which methods each route answers, so that a known route called with the
 * wrong method gets 405 and an `Allow` header (not a 404 that reads like a
 * missing model), and `OPTIONS` on any route says what it allows.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pathOf, sendError } from './error-bodies';

/** The route pattern `OPTIONS` is registered on; it answers for every path. */
export const OPTIONS_ROUTE = '*';

interface KnownRoute {
  readonly pattern: RegExp;
  readonly methods: Set<string>;
}

/** A fastify route URL (`/v2/models/:name`) as a regular expression over request paths. */
function patternOf(url: string): RegExp {
  const escaped = url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${escaped.join('/')}$`);
}

export class RouteTable {
  private readonly routes = new Map<string, KnownRoute>();

  /** Records every route added to `app` from now on (call before adding them). */
  constructor(app: FastifyInstance) {
    app.addHook('onRoute', ({ method, url }) => {
      if (url === OPTIONS_ROUTE) return;
      const known = this.routes.get(url) ?? { pattern: patternOf(url), methods: new Set<string>() };
      for (const m of Array.isArray(method) ? method : [method]) known.methods.add(m.toUpperCase());
      this.routes.set(url, known);
    });
  }

  /** The methods `path` answers (with OPTIONS), empty for a path no route takes. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const { pattern, methods: own } of this.routes.values()) if (pattern.test(path)) own.forEach((m) => methods.add(m));
    if (methods.size > 0) methods.add('OPTIONS');
    return [...methods].sort();
  }

  /** OPTIONS: 204 with `Allow` for a known path, 404 otherwise. */
  answerOptions(request: FastifyRequest, reply: FastifyReply, notFound: string): FastifyReply {
    const allowed = this.allowed(pathOf(request.url));
    if (allowed.length === 0) return sendError(reply, request.url, 404, notFound);
    return reply.code(204).header('allow', allowed.join(', ')).send();
  }

  /** What no route answered: 405 with `Allow` when the path is known under other methods, else 404. */
  answerUnmatched(request: FastifyRequest, reply: FastifyReply, notFound: string): FastifyReply {
    const path = pathOf(request.url);
    const allowed = this.allowed(path);
    if (allowed.length === 0) return sendError(reply, request.url, 404, notFound);
    reply.header('allow', allowed.join(', '));
    return sendError(reply, request.url, 405, `${request.method} is not allowed on ${path}: it answers ${allowed.join(', ')}.`);
  }
}
