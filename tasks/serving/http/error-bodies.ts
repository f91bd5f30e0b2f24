/**
 * Error bodies in the dialect of the route's clients: `{"error": "..."}` on
 * Open Inference Protocol routes (KServe, Triton, MLServer) and
 * `{"error_code": "BAD_REQUEST", "message": "..."}` on MLflow's scoring
 * routes. Every JSON answer's Content-Type is exactly `application/json`:
 * KServe's client reads an error's message only then.
 */
import type { FastifyReply } from 'fastify';

/** MLflow's scoring server's routes (`mlflow models serve`). */
export const MLFLOW_PATHS: ReadonlySet<string> = new Set(['/ping', '/health', '/version', '/invocations']);

/** MLflow's error codes (its databricks_pb2 ErrorCode names) by HTTP status. */
function mlflowErrorCode(status: number): string {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 404) return 'ENDPOINT_NOT_FOUND';
  if (status === 503) return 'TEMPORARILY_UNAVAILABLE';
  return status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST';
}

/** A request's path as routes name it: no query, no trailing slash. */
export function pathOf(url: string): string {
  const path = url.split('?')[0];
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** The error body for a request to `path`, with `extra` fields kept (`ready: false` on health routes). */
export function errorBody(path: string, status: number, message: string, extra: object = {}): object {
  return MLFLOW_PATHS.has(pathOf(path)) ? { ...extra, error_code: mlflowErrorCode(status), message } : { ...extra, error: message };
}

/** Sends an error in the dialect of `path`'s clients. */
export function sendError(reply: FastifyReply, path: string, status: number, message: string, extra?: object): FastifyReply {
  return reply.code(status).send(errorBody(path, status, message, extra));
}

/** fastify appends `; charset=utf-8` to JSON; JSON is UTF-8 by definition (RFC 8259), and some clients compare the type exactly. */
export function plainJsonType(reply: FastifyReply): void {
  const type = reply.getHeader('content-type');
  if (typeof type === 'string' && /^application\/json;\s*charset=utf-8$/i.test(type)) reply.header('content-type', 'application/json');
}
