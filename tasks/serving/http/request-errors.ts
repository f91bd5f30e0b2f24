/**
 * What a failed request means to its client: the HTTP status and the
 * message for the error body, from the server's own request errors and
 * fastify's (body limit, media type, JSON). Both the fastify app and the
 * hot infer route answer with it, so a failure reads the same on either.
 */
import type { FastifyError } from 'fastify';
import { ServeRequestError } from '../errors';
import { NOT_JSON } from './request-body';

/** What fastify's own errors mean to a client, in the server's words. */
function describeFastifyError(err: FastifyError, maxBodyBytes: number): { status: number; message: string } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `the request body is over the limit of ${maxBodyBytes} bytes: send fewer images per request, or start the server with a larger --max-body-mb.` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: NOT_JSON };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'the request body is not as long as its Content-Length says: send the whole body, and its length in bytes.' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'the request body is empty: expected a JSON object such as {"inputs": [...]}.' };
    default:
      if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        return { status: 400, message: `the request body is not valid JSON (${err.message}): expected a JSON object such as {"inputs": [...]}.` };
      }
      return { status: err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500, message: err.message };
  }
}

/** The status and message a request that failed with `err` is answered with (>= 500: the server's fault, to be logged). */
export function describeRequestError(err: unknown, maxBodyBytes: number): { status: number; message: string } {
  const failure = err as FastifyError;
  if (err instanceof ServeRequestError && failure.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: err.status, message: err.message };
  return describeFastifyError(failure, maxBodyBytes);
}
