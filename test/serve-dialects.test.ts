/**
 * The model server as each client's own library calls it, against a real
 * server on loopback: requests carry exactly the bytes and headers that
 * tritonclient.http, KServe's InferenceRESTClient and MLflow's scoring
 * client send (sent with node:http, which adds nothing but Host and
 * Content-Length), and answers are read as those clients read them.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { loadTensorFlow } from '../tasks/tf/tf-backend';
import { type ModelServer, serveModel } from '../tasks/serving';
import { testImages } from './fixtures/serve-client';
import { registerSeededModel, seededModel } from './fixtures/serve-models';

const logger = createLogger({ level: 'silent' });
const MODEL = 'mnist-digits';
let store: string;
let server: ModelServer;
let reference: tfjs.LayersModel;

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request with exactly these headers and body bytes. */
function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) }, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** What the registered model says for these images, computed in this process. */
async function expected(pixels: Uint8Array): Promise<number[]> {
  const { tf } = await loadTensorFlow();
  const count = pixels.length / 784;
  return Array.from(tf.tidy(() => (reference.predict(tf.tensor(Float32Array.from(pixels, (p) => p / 255), [count, 28, 28, 1])) as tfjs.Tensor).dataSync() as Float32Array));
}

function expectClose(actual: readonly number[], wanted: readonly number[]): void {
  expect(actual).toHaveLength(wanted.length);
  actual.forEach((v, i) => expect(Math.abs(v - wanted[i])).toBeLessThan(1e-5));
}

/** Images as float64 rows in [0, 1]: what numpy holds after `images / 255.0`. */
const floatRows = (pixels: Uint8Array): number[][] => Array.from({ length: pixels.length / 784 }, (_, n) => Array.from(pixels.subarray(n * 784, (n + 1) * 784), (p) => p / 255));

const mlflowPredictions = (reply: RawReply) => reply.json.predictions.flatMap((p: { probabilities: number[] }) => p.probabilities);

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'serve-dialects-'));
  await registerSeededModel(store, MODEL, 11, 'champion');
  reference = await seededModel(11);
  server = await serveModel({ store, port: 0, logger, maxBodyBytes: 256 * 1024, predictionLog: false });
});

afterAll(async () => {
  await server?.stop();
  await rm(store, { recursive: true, force: true });
});

describe('tritonclient.http and KServe clients', () => {
  it('JSON with no Content-Type (tritonclient, KServe in JSON mode) and FP64 data (numpy\'s default float) infer as FP32', async () => {
    const pixels = testImages(2, 1);
    // tritonclient: InferInput('image', [2, 784], 'FP64').set_data_from_numpy(x, binary_data=False); no Content-Type header.
    const body = JSON.stringify({ inputs: [{ name: 'image', shape: [2, 784], datatype: 'FP64', data: floatRows(pixels).flat() }], outputs: [{ name: 'probabilities', parameters: { binary_data: false } }] });
    const reply = await send(server.url, 'POST', `/v2/models/${MODEL}/infer`, { 'accept-encoding': 'gzip, deflate' }, body);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.json.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities']);
    expectClose(reply.json.outputs[0].data, await expected(pixels));
  });

  it('binary FP64 inputs, gzip- and deflate-compressed bodies (request_compression_algorithm) answer as the plain request', async () => {
    const pixels = testImages(3, 2);
    const wanted = await expected(pixels);
    const fp64 = Buffer.from(Float64Array.from(pixels, (p) => p / 255).buffer);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [3, 28, 28, 1], datatype: 'FP64', parameters: { binary_data_size: fp64.length } }] }));
    const plain = Buffer.concat([header, fp64]);
    // The header's length is of the uncompressed JSON, as tritonclient computes it before compressing.
    const binaryHeaders = { 'inference-header-content-length': String(header.length) };
    for (const [encoding, bytes] of [['identity', plain], ['gzip', gzipSync(plain)], ['deflate', deflateSync(plain)]] as const) {
      const reply = await send(server.url, 'POST', `/v2/models/${MODEL}/versions/1/infer`, { ...binaryHeaders, ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }) }, bytes);
      expect(reply.status, `${encoding}: ${reply.text.slice(0, 200)}`).toBe(200);
      expectClose(reply.json.outputs[0].data, wanted);
    }
    const json = gzipSync(JSON.stringify({ inputs: [{ name: 'image', shape: [3, 784], datatype: 'UINT8', data: Array.from(pixels) }] }));
    const gzJson = await send(server.url, 'POST', `/v2/models/${MODEL}/infer`, { 'content-encoding': 'gzip' }, json);
    expect(gzJson.status).toBe(200);
    expectClose(gzJson.json.outputs[0].data, wanted);
  });

  it('a zip bomb is a 413 once its inflated size passes the limit, and the server keeps serving', async () => {
    // 64 MiB of zeros gzip to about 64 KiB: under the 256 KiB limit on the wire, far over it inflated.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(256 * 1024);
    const reply = await send(server.url, 'POST', `/v2/models/${MODEL}/infer`, { 'content-encoding': 'gzip', 'content-type': 'application/json' }, bomb);
    expect(reply.status).toBe(413);
    expect(reply.json.error).toMatch(/over the limit of 262144 bytes/);
    const broken = await send(server.url, 'POST', `/v2/models/${MODEL}/infer`, { 'content-encoding': 'gzip' }, Buffer.from('{"inputs": []}'));
    expect(broken.status).toBe(400);
    expect(broken.json.error).toMatch(/not valid gzip .*Content-Encoding says it is/);
    const brotli = await send(server.url, 'POST', `/v2/models/${MODEL}/infer`, { 'content-encoding': 'br' }, Buffer.from('x'));
    expect(brotli.status).toBe(415);
    expect(brotli.json.error).toMatch(/Content-Encoding "br" is not supported: .*gzip or deflate/);
    const ok = await send(server.url, 'POST', `/v2/models/${MODEL}/infer`, {}, JSON.stringify({ inputs: [{ name: 'image', shape: [1, 784], datatype: 'UINT8', data: Array.from(testImages(1, 3)) }] }));
    expect(ok.status).toBe(200);
  });

  it('every error body is JSON with Content-Type exactly application/json, so KServe\'s client shows its message', async () => {
    const cases: [string, string, Record<string, string>, string | undefined, number][] = [
      ['POST', `/v2/models/${MODEL}/infer`, {}, '{"inputs": [{"name": "image", "shape": [1, 5], "datatype": "FP32", "data": [0,0,0,0,0]}]}', 400],
      ['POST', '/v2/models/fashion/infer', {}, '{"inputs": []}', 404],
      ['GET', `/v2/models/${MODEL}/versions/7/ready`, {}, undefined, 404],
      ['POST', `/v2/models/${MODEL}/infer`, { 'content-type': 'text/plain' }, 'hello', 415],
      ['POST', `/v2/models/${MODEL}/infer`, { 'content-type': 'application/json; charset=latin-1' }, '{}', 415],
      ['POST', `/v2/models/${MODEL}/infer`, {}, '{"inputs": [', 400],
    ];
    for (const [method, path, headers, body, status] of cases) {
      const reply = await send(server.url, method, path, headers, body);
      expect(reply.status, `${method} ${path}`).toBe(status);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(Object.keys(reply.json)).toEqual(['error']);
      expect(reply.json.error.length).toBeGreaterThan(10);
    }
  });
});

describe('HTTP: methods, OPTIONS, trailing slashes', () => {
  it('a known route with the wrong method is a 405 with Allow; unknown routes stay 404', async () => {
    const ready = await send(server.url, 'POST', '/v2/health/ready', {}, '{}');
    expect(ready.status).toBe(405);
    expect(ready.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(ready.json.error).toMatch(/POST is not allowed on \/v2\/health\/ready: it answers GET, HEAD, OPTIONS/);
    const infer = await send(server.url, 'GET', `/v2/models/${MODEL}/infer`);
    expect(infer.status).toBe(405);
    expect(infer.headers.allow).toBe('OPTIONS, POST');
    const invocations = await send(server.url, 'GET', '/invocations');
    expect(invocations.status).toBe(405);
    expect(invocations.json).toEqual({ error_code: 'BAD_REQUEST', message: expect.stringMatching(/GET is not allowed on \/invocations/) });
    const unknown = await send(server.url, 'GET', '/v1/models/x');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.allow).toBeUndefined();
  });

  it('OPTIONS names the methods of a route (no token needed), 404 for an unknown one', async () => {
    const guarded = await serveModel({ store, port: 0, logger, token: 'secret-token', predictionLog: false });
    try {
      const options = await send(guarded.url, 'OPTIONS', `/v2/models/${MODEL}/versions/1/infer`);
      expect(options.status).toBe(204);
      expect(options.headers.allow).toBe('OPTIONS, POST');
      expect((await send(guarded.url, 'OPTIONS', '/v2/models')).status).toBe(404);
      // The wrong method on a guarded route still needs the token first.
      expect((await send(guarded.url, 'GET', `/v2/models/${MODEL}/infer`)).status).toBe(401);
    } finally {
      await guarded.stop();
    }
  });

  it('answers /v2/ and other routes with a trailing slash as without', async () => {
    const root = await send(server.url, 'GET', '/v2/');
    expect(root.status).toBe(200);
    expect(root.json).toMatchObject({ name: 'dagwright', extensions: ['binary_tensor_data'] });
    expect((await send(server.url, 'GET', `/v2/models/${MODEL}/ready/`)).json).toMatchObject({ ready: true });
    expect((await send(server.url, 'GET', '/v2/health/live/')).status).toBe(200);
  });
});

describe('MLflow scoring protocol', () => {
  const pixels = testImages(3, 4);
  const columns = Array.from({ length: 784 }, (_, i) => `pixel${i}`);
  const json = { 'content-type': 'application/json' };

  it('dataframe_split, as MLflow\'s client sends a pandas DataFrame, and dataframe_records', async () => {
    const wanted = await expected(pixels);
    // pandas: df.to_dict(orient="split"), index included.
    const split = { dataframe_split: { index: [0, 1, 2], columns, data: floatRows(pixels) } };
    const reply = await send(server.url, 'POST', '/invocations', json, JSON.stringify(split));
    expect(reply.status, reply.text.slice(0, 200)).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expectClose(mlflowPredictions(reply), wanted);
    const records = floatRows(pixels).map((row) => Object.fromEntries(row.map((v, i) => [columns[i], v])));
    const fromRecords = await send(server.url, 'POST', '/invocations', json, JSON.stringify({ dataframe_records: records }));
    expect(fromRecords.status).toBe(200);
    expectClose(mlflowPredictions(fromRecords), wanted);
    // One column whose cells are whole images (a DataFrame of arrays), 0-255 with params.
    const cells = { dataframe_split: { columns: ['image'], data: [0, 1, 2].map((n) => [Array.from(pixels.subarray(n * 784, (n + 1) * 784))]) }, params: { datatype: 'UINT8' } };
    const fromCells = await send(server.url, 'POST', '/invocations', { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(cells));
    expect(fromCells.status).toBe(200);
    expectClose(mlflowPredictions(fromCells), wanted);
  });

  it('text/csv as DataFrame.to_csv() writes it (index column and all), 0-255 with ?datatype=UINT8', async () => {
    const wanted = await expected(pixels);
    const rows = [0, 1, 2].map((n) => Array.from(pixels.subarray(n * 784, (n + 1) * 784)));
    const withIndex = [`,${columns.join(',')}`, ...rows.map((r, n) => `${n},${r.map((p) => p / 255).join(',')}`)].join('\n') + '\n';
    const reply = await send(server.url, 'POST', '/invocations', { 'content-type': 'text/csv' }, withIndex);
    expect(reply.status, reply.text.slice(0, 200)).toBe(200);
    expectClose(mlflowPredictions(reply), wanted);
    const noIndex = [columns.map((c) => `"${c}"`).join(','), ...rows.map((r) => r.join(','))].join('\r\n');
    const uint8 = await send(server.url, 'POST', '/invocations?datatype=UINT8', { 'content-type': 'text/csv; charset=utf-8' }, noIndex);
    expect(uint8.status).toBe(200);
    expectClose(mlflowPredictions(uint8), wanted);
    const short = await send(server.url, 'POST', '/invocations', { 'content-type': 'text/csv' }, `a,b\n1,2,3\n`);
    expect(short).toMatchObject({ status: 400, json: { error_code: 'BAD_REQUEST', message: expect.stringMatching(/CSV row 2 has 3 fields but the header has 2/) } });
  });

  it('/ping, /health and /version', async () => {
    for (const path of ['/ping', '/health']) expect((await send(server.url, 'GET', path)).status).toBe(200);
    const version = await send(server.url, 'GET', '/version');
    expect(version.status).toBe(200);
    expect(version.text).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('errors as {"error_code", "message"}; 415 for content type parameters and charsets MLflow refuses', async () => {
    const both = await send(server.url, 'POST', '/invocations', json, JSON.stringify({ inputs: [[0.5]], dataframe_split: { columns: ['a'], data: [[1]] } }));
    expect(both.status).toBe(400);
    expect(both.headers['content-type']).toBe('application/json');
    expect(both.json).toEqual({ error_code: 'BAD_REQUEST', message: expect.stringMatching(/exactly one of the input fields .*got "dataframe_split", "inputs"/) });
    const format = await send(server.url, 'POST', '/invocations', { 'content-type': 'application/json; format=pandas-split' }, JSON.stringify({ inputs: floatRows(pixels) }));
    expect(format.status).toBe(415);
    expect(format.json).toEqual({ error_code: 'BAD_REQUEST', message: expect.stringMatching(/unrecognized content type parameters: format/) });
    const latin = await send(server.url, 'POST', '/invocations', { 'content-type': 'text/csv; charset=latin-1' }, 'a\n1\n');
    expect(latin.status).toBe(415);
    expect(latin.json.message).toMatch(/charset "latin-1": this server reads UTF-8 only/);
    const text = await send(server.url, 'POST', '/invocations', { 'content-type': 'text/plain' }, 'hello');
    expect(text).toMatchObject({ status: 415, json: { error_code: 'BAD_REQUEST', message: expect.stringMatching(/text\/csv/) } });
    const wrongSize = await send(server.url, 'POST', '/invocations', json, JSON.stringify({ dataframe_split: { columns: ['a', 'b'], data: [[0.1, 0.2]] } }));
    expect(wrongSize.json).toEqual({ error_code: 'BAD_REQUEST', message: expect.stringMatching(/instances\[0\] has 2 values: expected an image of 28x28x1 = 784/) });
  });
});
