import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { html, type Html } from './html';
import { page, type PageOptions } from './layout';
import type { Store } from '../../src/store/store';
import type { RunIndex } from './run-index';
import type { RunTable } from './runs-table';
import type { ServerSampler } from './serving-samples';
import { holdsToken } from './security';

/** What every page module gets from the server. */
export interface UiContext {
  readonly store: Store;
  readonly runs: RunIndex;
  /** The runs list's rows (params, metrics, tags of every run), kept in memory once finished. */
  readonly table: RunTable;
  readonly readOnly: boolean;
  readonly token: string;
  /** A model server's base URL (`--server`), for the serving page. */
  readonly serverUrl?: string;
  /** Samples that server's /metrics over time (the serving page's rates and latency). */
  readonly sampler?: ServerSampler;
  readonly logger?: Logger;
}

/** Sends a whole page. */
export function sendPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply, options: Omit<PageOptions, 'store' | 'readOnly' | 'canWrite'>, status = 200): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(page({ ...options, store: ctx.store.uri, readOnly: ctx.readOnly, canWrite: holdsToken(request, ctx.token) }));
}

/** A page that says what is wrong, with the right status. */
export function sendProblem(ctx: UiContext, request: FastifyRequest, reply: FastifyReply, status: number, title: string, message: string | Html): FastifyReply {
  return sendPage(ctx, request, reply, { title, section: 'runs', body: html`<h1>${title}</h1><p class="error" data-problem="${status}">${message}</p>` }, status);
}

/**
 * The gate of every write action: refused with 403 when the UI is read-only
 * or the request does not carry the start-up token. Returns true when the
 * write may go ahead.
 */
export function allowWrite(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): boolean {
  const json = request.headers['content-type']?.includes('application/json') ?? false;
  const refuse = (error: string) => {
    if (json) void reply.code(403).send({ error });
    else void sendProblem(ctx, request, reply, 403, 'Write refused', error);
    return false;
  };
  if (ctx.readOnly) return refuse('this UI was started with --read-only: every write action is off.');
  if (!holdsToken(request, ctx.token)) return refuse('write actions need the token printed when the UI started: open the start-up URL (it ends in ?token=...) or send Authorization: Bearer <token>.');
  return true;
}

export function firstString(value: unknown): string | undefined {
  if (Array.isArray(value)) return firstString(value[0]);
  return typeof value === 'string' ? value : undefined;
}

export function allStrings(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' && value !== '' ? value.split(',').filter(Boolean) : [];
}
