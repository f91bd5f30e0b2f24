import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Service, ServiceHealth } from '../../src/services/service';
import { type Store, toStore } from '../../src/store/store';
import { assets } from './assets';
import { sendProblem, type UiContext } from './context';
import { registerExperiments } from './pages/experiments';
import { registerLabelling } from './pages/labelling';
import { registerOperations } from './pages/operations';
import { registerRegistry } from './pages/registry';
import { registerRunPage } from './pages/run-page';
import { registerRunsList } from './pages/runs-list';
import { registerServing } from './pages/serving';
import { registerTaskPage } from './pages/task-page';
import { RunIndex } from './run-index';
import { RunTable } from './runs-table';
import { ServerSampler } from './serving-samples';
import { holdsToken, hostAllowed, newToken, originAllowed, securityHeaders, tokenCookie } from './security';

export interface UiServerOptions {
  /** The store the UI reads (and writes, for aliases and labels); a string is parsed as `--store` is. */
  readonly store: Store | string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8765; 0 picks a free port. */
  readonly port?: number;
  /** Turns every write action off. */
  readonly readOnly?: boolean;
  /** The write token; default: a fresh random one. */
  readonly token?: string;
  /** A model server's base URL, for the serving page. */
  readonly serverUrl?: string;
  /** How often that server's /metrics is sampled for the serving page's charts; default 10 s. */
  readonly serverSampleMs?: number;
  readonly logger?: Logger;
}

/**
 * The web UI over a store: server-rendered pages for runs, experiments, the
 * registry, serving and drift, and labelling. Bound to 127.0.0.1 unless told
 * otherwise; write actions need the token it prints at start-up.
 */
export class UiServer implements Service {
  readonly name = 'ui';
  readonly token: string;
  private app: FastifyInstance | undefined;
  private address: AddressInfo | undefined;
  private readonly streams = new Set<() => void>();
  private sampler: ServerSampler | undefined;

  constructor(private readonly options: UiServerOptions) {
    this.token = options.token ?? newToken();
  }

  /** `http://host:port`, once started. */
  get url(): string {
    if (!this.address) throw new Error('the UI server is not started');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}`;
  }

  /** The URL to open: it hands the browser the write token (as a cookie) and drops it from the address bar. */
  get startUrl(): string {
    return `${this.url}/?token=${this.token}`;
  }

  async start(): Promise<void> {
    if (this.app) return;
    const store = toStore(this.options.store);
    const runs = new RunIndex(store);
    const ctx: UiContext = {
      store,
      runs,
      table: new RunTable(runs),
      readOnly: this.options.readOnly ?? false,
      token: this.token,
      ...(this.options.serverUrl ? { serverUrl: this.options.serverUrl, sampler: (this.sampler = new ServerSampler(this.options.serverUrl, this.options.serverSampleMs)) } : {}),
      ...(this.options.logger ? { logger: this.options.logger } : {}),
    };
    const app = fastify({ logger: false, bodyLimit: 1024 * 1024, routerOptions: { maxParamLength: 500 } });
    const allowedHosts = new Set<string>();
    this.hooks(app, ctx, allowedHosts);
    registerRunsList(app, ctx);
    registerRunPage(app, ctx, this.streams);
    registerTaskPage(app, ctx);
    registerExperiments(app, ctx);
    registerRegistry(app, ctx);
    registerServing(app, ctx);
    registerOperations(app, ctx);
    registerLabelling(app, ctx);
    try {
      await app.listen({ host: this.options.host ?? '127.0.0.1', port: this.options.port ?? 8765 });
    } catch (err) {
      await app.close();
      throw err;
    }
    this.app = app;
    this.sampler?.start();
    this.address = app.server.address() as AddressInfo;
    const port = this.address.port;
    for (const h of [this.options.host ?? '127.0.0.1', '127.0.0.1', 'localhost', '[::1]']) allowedHosts.add(`${h}:${port}`.toLowerCase());
    // Warm the code paths and the store's listing before the URL is handed out, so the first page is fast
    // too; a slow store (a large S3 listing) delays start-up by at most 3 s.
    const warm = app.inject({ method: 'GET', url: '/runs', headers: { host: `127.0.0.1:${port}` } }).catch(() => undefined);
    await Promise.race([warm, new Promise((r) => setTimeout(r, 3000).unref())]);
  }

  private hooks(app: FastifyInstance, ctx: UiContext, allowedHosts: Set<string>): void {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    app.addHook('onRequest', async (request, reply) => {
      securityHeaders(reply);
      if (!hostAllowed(request, allowedHosts)) return reply.code(403).type('text/plain').send('this UI answers only to its own address (Host header refused)\n');
      if (request.method !== 'GET' && request.method !== 'HEAD' && !originAllowed(request, allowedHosts)) return reply.code(403).send({ error: 'cross-origin write refused' });
      const url = new URL(request.url, 'http://ui');
      const given = url.searchParams.get('token');
      if (given !== null && request.method === 'GET') {
        url.searchParams.delete('token');
        const target = `${url.pathname}${url.search}`;
        if (given !== ctx.token) return sendProblem(ctx, request, reply, 403, 'Wrong token', 'That token is not the one this UI printed at start-up.');
        reply.header('set-cookie', `${tokenCookie}=${ctx.token}; HttpOnly; SameSite=Strict; Path=/`);
        return reply.redirect(target, 303);
      }
      return undefined;
    });
    app.get('/assets/:name', async (request, reply) => {
      const asset = Object.hasOwn(assets, (request.params as { name: string }).name) ? assets[(request.params as { name: string }).name] : undefined;
      if (!asset) return reply.code(404).type('text/plain').send('no such asset\n');
      return reply.type(asset.type).header('cache-control', 'max-age=3600').send(asset.body());
    });
    app.get('/health', async () => ({ ready: true }));
    app.get('/api/whoami', async (request) => ({ canWrite: !ctx.readOnly && holdsToken(request, ctx.token), readOnly: ctx.readOnly }));
    app.setNotFoundHandler((request, reply) => sendProblem(ctx, request, reply, 404, 'Not found', 'There is no such page in this UI.'));
    app.setErrorHandler((err: { statusCode?: number; message?: string }, request, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) ctx.logger?.error({ err }, 'UI request failed');
      return sendProblem(ctx, request, reply, status, status === 500 ? 'Something failed' : 'Bad request', status === 500 ? `The store could not be read: ${err.message ?? 'unknown error'}` : (err.message ?? 'bad request'));
    });
  }

  async health(): Promise<ServiceHealth> {
    if (!this.app || !this.address) return { ready: false };
    return { ready: true, detail: { url: this.url, store: String(this.options.store), readOnly: this.options.readOnly ?? false } };
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    this.sampler?.stop();
    for (const close of [...this.streams]) close();
    await app?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
