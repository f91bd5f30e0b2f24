/**
 * The infer routes have two ways in (hot-infer-route.ts): the common request
 * (plain JSON or binary tensors with a Content-Length, the token) is
 * answered in front of fastify, and everything else (a gzip body, a
 * Content-Type with parameters...) by the app. A client must not be able
 * to tell them apart: the same request sent both ways gets the same status,
 * body and headers, its errors the same words, and both are counted in the
 * same request metrics. Real server on loopback, raw node:http requests.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { type ModelServer, serveModel } from '../tasks/serving';
import { testImages } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';

const MODEL = 'mnist-digits';
const TOKEN = 'paths-token';
let store: string;
let server: ModelServer;

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(path: string, headers: Record<string, string>, body: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };
/** The hot path's request, and two the app answers: gzip, and a JSON Content-Type with a charset. */
const WAYS = {
  hot: (type: string, body: Buffer, extra: Record<string, string> = {}) => ({ headers: { ...auth, 'content-type': type, ...extra }, body }),
  gzip: (type: string, body: Buffer, extra: Record<string, string> = {}) => ({ headers: { ...auth, 'content-type': type, 'content-encoding': 'gzip', ...extra }, body: gzipSync(body) }),
};

/** Sends `body` each way; expects the same status, body and headers (but the date) from each, and returns the hot one. */
async function sameEachWay(path: string, type: string, body: Buffer, extra?: Record<string, string>): Promise<RawReply> {
  const hot = await send(path, WAYS.hot(type, body, extra).headers, WAYS.hot(type, body, extra).body);
  const app = await send(path, WAYS.gzip(type, body, extra).headers, WAYS.gzip(type, body, extra).body);
  expect(app.status).toBe(hot.status);
  expect(app.body.toString('latin1')).toBe(hot.body.toString('latin1'));
  const { date: _hotDate, ...hotHeaders } = hot.headers;
  const { date: _appDate, ...appHeaders } = app.headers;
  expect(appHeaders).toEqual(hotHeaders);
  return hot;
}

async function inferCount(route: string, status: string): Promise<number> {
  const reply = await fetch(`${server.url}/metrics`, { headers: auth });
  const text = await reply.text();
  const line = text.split('\n').find((l) => l.startsWith(`dagwright_serve_requests_total{route="${route}",method="POST",status="${status}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'serve-infer-paths-'));
  await registerSeededModel(store, MODEL, 5, 'champion');
  server = await serveModel({ store, port: 0, logger: createLogger({ level: 'silent' }), token: TOKEN, maxBodyBytes: 256 * 1024, predictionLog: false });
});

afterAll(async () => {
  await server?.stop();
  if (store) await rm(store, { recursive: true, force: true });
});

it('a JSON infer request answers the same on the hot path and through the app, and both count in the request metrics', async () => {
  const pixels = testImages(2, 3);
  const body = Buffer.from(JSON.stringify({ id: 'same-id', inputs: [{ name: 'image', shape: [2, 784], datatype: 'UINT8', data: Array.from(pixels) }] }));
  const before = await inferCount('/v2/models/:name/infer', '200');
  const hot = await sameEachWay(`/v2/models/${MODEL}/infer`, 'application/json', body);
  expect(hot.status).toBe(200);
  expect(hot.headers['content-type']).toBe('application/json');
  expect(hot.headers['x-model-version']).toBe('1');
  const answer = JSON.parse(hot.body.toString());
  expect(answer.parameters.prediction_ids).toEqual(['same-id#0', 'same-id#1']);
  expect(answer.outputs[0].data).toHaveLength(20);
  expect(await inferCount('/v2/models/:name/infer', '200')).toBe(before + 2);

  // The versioned route, both ways, counted under its own route.
  const versioned = await sameEachWay(`/v2/models/${MODEL}/versions/1/infer`, 'application/json', body);
  expect(versioned.body.toString()).toBe(hot.body.toString());
  expect(await inferCount('/v2/models/:name/versions/:version/infer', '200')).toBe(2);
});

it('binary tensors answer the same on the hot path and through the app', async () => {
  const pixels = testImages(3, 4);
  const header = Buffer.from(JSON.stringify({ id: 'bin', inputs: [{ name: 'image', datatype: 'UINT8', shape: [3, 784], parameters: { binary_data_size: pixels.length } }], parameters: { binary_data_output: true } }));
  const reply = await sameEachWay(`/v2/models/${MODEL}/infer`, 'application/octet-stream', Buffer.concat([header, pixels]), { 'inference-header-content-length': String(header.length) });
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toBe('application/octet-stream');
  const headerLength = Number(reply.headers['inference-header-content-length']);
  expect(JSON.parse(reply.body.subarray(0, headerLength).toString()).outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities', 'label']);
  expect(reply.body.length).toBe(headerLength + 3 * 10 * 4 + 3 * 8);
});

it('bad requests get the same status and words on the hot path as through the app, and count under their status', async () => {
  const before = await inferCount('/v2/models/:name/infer', '400');
  const cases: [string, string, string, RegExp][] = [
    [`/v2/models/${MODEL}/infer`, 'application/json', '{"inputs": [', /not valid JSON/],
    [`/v2/models/${MODEL}/infer`, 'application/json', '{"inputs": 5}', /"inputs" must be a list of one tensor/],
    [`/v2/models/${MODEL}/infer`, 'application/json', '{"inputs": [{"name": "image", "shape": [1, 3], "datatype": "FP32", "data": [0, 0, 0]}]}', /input shape \[1,3\] is not accepted/],
    [`/v2/models/${MODEL}/infer`, 'application/octet-stream', '{"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "parameters": {"binary_data_size": 784}}]}', /the body is shorter than the sizes say/],
    [`/v2/models/${MODEL}/versions/7/infer`, 'application/json', '{"inputs": []}', /version "7" of "mnist-digits" is not served here/],
  ];
  for (const [path, type, body, words] of cases) {
    const reply = await sameEachWay(path, type, Buffer.from(body));
    expect(reply.status, body).toBeGreaterThanOrEqual(400);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body.toString()).error).toMatch(words);
  }
  expect(await inferCount('/v2/models/:name/infer', '400')).toBe(before + 8);
});

it('a request without the token is refused on both ways in, with the same 401', async () => {
  const body = Buffer.from('{"inputs": []}');
  const plain = await send(`/v2/models/${MODEL}/infer`, { 'content-type': 'application/json' }, body);
  const gzip = await send(`/v2/models/${MODEL}/infer`, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(body));
  for (const reply of [plain, gzip]) {
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(reply.body.toString()).error).toMatch(/needs a token/);
  }
});

it('a client that goes away halfway through its body gets nothing, and the server keeps answering', async () => {
  const { port } = new URL(server.url);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"inputs": [`);
      setTimeout(() => socket.destroy(), 100);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  const pixels = testImages(1, 9);
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [1, 784], datatype: 'UINT8', data: Array.from(pixels) }] }));
  const reply = await send(`/v2/models/${MODEL}/infer`, { ...auth, 'content-type': 'application/json' }, body);
  expect(reply.status).toBe(200);
});
