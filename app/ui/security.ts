import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const tokenCookie = 'dagwright_ui_token';

/** A fresh write token, as Jupyter prints one at start-up. */
export function newToken(): string {
  return randomBytes(24).toString('hex');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** The token a request carries: `Authorization: Bearer`, the cookie set from the start-up URL, or a form field. */
export function presentedToken(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  const cookie = cookieOf(request, tokenCookie);
  if (cookie) return cookie;
  const body = request.body as Record<string, unknown> | undefined;
  return typeof body?.token === 'string' ? body.token : undefined;
}

export function holdsToken(request: FastifyRequest, token: string): boolean {
  const given = presentedToken(request);
  return given !== undefined && same(given, token);
}

/** Headers on every answer: no framing, no sniffing, referrers only within this UI (Chrome sends "Origin: null" on form posts under no-referrer), scripts only from /assets. */
export function securityHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'same-origin');
  reply.header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'");
}

/** Requests must name this server (a DNS-rebinding page cannot), and writes must come from its own pages. */
export function hostAllowed(request: FastifyRequest, allowedHosts: ReadonlySet<string>): boolean {
  const host = request.headers.host;
  return host !== undefined && allowedHosts.has(host.toLowerCase());
}

export function originAllowed(request: FastifyRequest, allowedHosts: ReadonlySet<string>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined || origin === 'null') return origin === undefined;
  try {
    return allowedHosts.has(new URL(origin).host.toLowerCase());
  } catch {
    return false;
  }
}
