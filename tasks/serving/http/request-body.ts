/**
 * How a request body's bytes become what the routes take, in every client's
 * dialect:
 * - `Content-Encoding: gzip` or `deflate` (Triton's client with
 *   `request_compression_algorithm`) is undone while reading, and the
 *   inflated body is held to the same size limit as a plain one (a zip bomb
 *   is a 413, never a process out of memory);
 * - no Content-Type is JSON (tritonclient and KServe's client send none in
 *   JSON mode); a charset other than UTF-8 is a 415;
 * - infer routes also take binary tensors (binary-tensors.ts);
 * - MLflow's `/invocations` also takes `text/csv` (read as a DataFrame), and
 *   refuses content type parameters other than charset (415), as MLflow does.
 */
import { MIMEType } from 'node:util';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { INFERENCE_HEADER_LENGTH, type ParseJson, readBinaryBody } from './binary-tensors';
import { readCsvFrame } from './dataframe';
import { depthChecked } from './json-depth';
import { readJsonInferBody } from './json-tensor-data';
import { ServeRequestError } from '../errors';

/** The route MLflow clients post to; it reads CSV and is strict about content type parameters. */
export const INVOCATIONS_ROUTE = '/invocations';

export const NOT_JSON =
  'the request body must be JSON: send Content-Type: application/json or no Content-Type (or, to POST .../infer, binary tensors after a JSON header whose length in bytes is in Inference-Header-Content-Length; or, to POST /invocations, text/csv).';

/** A body over the limit once inflated; fastify's own code, so it reads as any other body over the limit. */
class InflatedTooLarge extends ServeRequestError {
  readonly code = 'FST_ERR_CTP_BODY_TOO_LARGE';
  readonly statusCode = 413;
  constructor() {
    super(413, 'the inflated request body is over the limit');
  }
}

/** A body that is not valid in its Content-Encoding (400), with zlib's reason. */
class BadEncoding extends ServeRequestError {
  readonly statusCode = 400;
  constructor(encoding: string, reason: string) {
    super(400, `the request body is not valid ${encoding} (${reason}), though Content-Encoding says it is: send the compressed bytes, or no Content-Encoding.`);
  }
}

/**
 * The body inflated as it arrives, within `limit` bytes. The returned stream
 * carries `receivedEncodedLength` (the bytes on the wire), which fastify
 * checks against Content-Length and its own limit.
 */
function inflating(payload: Readable, encoding: 'gzip' | 'deflate', limit: number): Readable {
  const inflate = encoding === 'gzip' ? createGunzip() : createInflate();
  const out = new PassThrough() as PassThrough & { receivedEncodedLength?: number };
  let encoded = 0;
  let decoded = 0;
  payload.on('data', (chunk: Buffer) => {
    encoded += chunk.length;
    out.receivedEncodedLength = encoded;
  });
  inflate.on('data', (chunk: Buffer) => {
    decoded += chunk.length;
    if (decoded <= limit) {
      out.write(chunk);
      return;
    }
    // Stop inflating at once; the rest of the upload is left unread and the connection closed with the answer.
    payload.unpipe(inflate);
    inflate.destroy();
    out.destroy(new InflatedTooLarge());
  });
  inflate.once('end', () => out.end());
  inflate.once('error', (err) => out.destroy(new BadEncoding(encoding, err.message)));
  payload.pipe(inflate);
  return out;
}

function contentEncodingOf(request: FastifyRequest): 'identity' | 'gzip' | 'deflate' {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return 'identity';
  if (encoding === 'gzip' || encoding === 'x-gzip') return 'gzip';
  if (encoding === 'deflate') return 'deflate';
  throw new ServeRequestError(415, `Content-Encoding ${JSON.stringify(encoding)} is not supported: send the body as is, or compressed with gzip or deflate.`);
}

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

/** The media type of the request (`application/json` when it names none); throws 415 for a charset other than UTF-8, and on /invocations for any other parameter. */
function mediaTypeOf(request: FastifyRequest): string {
  const header = request.headers['content-type'];
  // What nearly every JSON client sends, answered without parsing a media type (measured ~1% of a one-image request).
  if (header === 'application/json') return header;
  if (header === undefined || header.trim() === '') return 'application/json';
  let type: MIMEType;
  try {
    type = new MIMEType(header);
  } catch {
    throw new ServeRequestError(415, `Content-Type ${JSON.stringify(header)} is not a media type. ${NOT_JSON}`);
  }
  const charset = type.params.get('charset');
  if (charset !== null && !/^utf-?8$/i.test(charset)) throw new ServeRequestError(415, `the request body is in charset ${JSON.stringify(charset)}: this server reads UTF-8 only; send charset=utf-8 or no charset.`);
  const others = [...type.params.keys()].filter((name) => name !== 'charset');
  if (others.length > 0 && request.routeOptions.url === INVOCATIONS_ROUTE) {
    throw new ServeRequestError(415, `unrecognized content type parameters: ${others.join(', ')}. Send Content-Type: application/json or text/csv, with no parameter but charset (the format goes in the body: {"dataframe_split": ...}, {"dataframe_records": ...}, {"inputs": ...} or {"instances": ...}).`);
  }
  return type.essence;
}

/** A request body as the routes take it; throws `ServeRequestError` (or a JSON SyntaxError) for what it cannot read. */
function readBody(request: FastifyRequest, body: Buffer, parseJson: ParseJson): unknown {
  if (request.is404) return undefined;
  const infer = request.routeOptions.url?.endsWith('/infer') === true;
  const headerLength = request.headers[INFERENCE_HEADER_LENGTH];
  if (infer && (headerLength !== undefined || isOctetStream(request))) return readBinaryBody(body, headerLength, parseJson);
  const type = mediaTypeOf(request);
  if (type === 'application/json') return infer ? readJsonInferBody(body, parseJson) : parseJson(body);
  if (type === 'text/csv' && request.routeOptions.url === INVOCATIONS_ROUTE) return readCsvFrame(body.toString('utf8'));
  throw new ServeRequestError(415, NOT_JSON);
}

/** Installs the body reading on `app`: decoding of compressed bodies, then one parser for every content type. Returns the JSON parser it reads with. */
export function addBodyReading(app: FastifyInstance, maxBodyBytes: number): ParseJson {
  // A callback hook, not an async one: no promise a request on the hot path.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    let encoding: ReturnType<typeof contentEncodingOf>;
    try {
      encoding = contentEncodingOf(request);
    } catch (err) {
      return done(err as Error);
    }
    done(null, encoding === 'identity' ? payload : inflating(payload, encoding, maxBodyBytes));
  });
  // Every body the routes see is bounded in depth, so no walk of it can overflow the stack (a 400, not a 500).
  const parseJson = depthChecked(fastifyJson(app));
  // One parser for all: the type is judged in readBody, and no text/plain body is ever read as a string. Bodies are bytes, within bodyLimit (413).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, readBody(request, body as Buffer, parseJson));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  return parseJson;
}
