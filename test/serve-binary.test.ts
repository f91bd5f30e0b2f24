/**
 * The binary tensor data extension of the Open Inference Protocol against a
 * real server on loopback with a registered model, from a plain HTTP client
 * (fetch) building bodies byte by byte as Triton's and KServe's clients do.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { loadTensorFlow } from '../tasks/tf/tf-backend';
import { type ModelServer, readPredictionLog, recordPixels, serveModel } from '../tasks/serving';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel, seededModel } from './fixtures/serve-models';

const logger = createLogger({ level: 'silent' });
let store: string;
let server: ModelServer;
let infer: string;
let reference: tfjs.LayersModel;

/** A binary request: the JSON header, then the tensors' bytes; `headerLength` overrides the true length. */
function binaryBody(header: object, tensors: Uint8Array[], headerLength?: number | string): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...tensors]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength ?? json.length) } };
}

const uint8Input = (pixels: Uint8Array, parameters: object = { binary_data_size: pixels.length }) => ({ name: 'image', datatype: 'UINT8', shape: [pixels.length / 784, 784], parameters });

interface BinaryReply {
  status: number;
  headers: Headers;
  /** The JSON header (or the whole JSON answer). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Each binary output's bytes, by name. */
  binary: Map<string, Buffer>;
}

async function post(url: string, request: { body: Buffer; headers: Record<string, string> }): Promise<BinaryReply> {
  const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  const bytes = Buffer.from(await response.arrayBuffer());
  const length = response.headers.get('inference-header-content-length');
  const jsonBytes = length === null ? bytes.length : Number(length);
  const json = JSON.parse(bytes.subarray(0, jsonBytes).toString());
  const binary = new Map<string, Buffer>();
  let offset = jsonBytes;
  for (const output of json.outputs ?? []) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(output.name, bytes.subarray(offset, offset + size));
    offset += size;
  }
  expect(offset).toBe(bytes.length);
  return { status: response.status, headers: response.headers, json, binary };
}

const float32s = (bytes: Buffer) => Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
const int64s = (bytes: Buffer) => Array.from({ length: bytes.length / 8 }, (_, i) => Number(bytes.readBigInt64LE(i * 8)));

/** The JSON answer for the same images, as the float32 values its numbers stand for. */
async function jsonAnswer(pixels: Uint8Array): Promise<{ probabilities: number[]; labels: number[] }> {
  const reply = await call(infer, { body: uint8Request(pixels) });
  expect(reply.status).toBe(200);
  return { probabilities: reply.body.outputs[0].data.map(Math.fround), labels: reply.body.outputs[1].data };
}

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'serve-binary-'));
  await registerSeededModel(store, 'mnist-digits', 7, 'champion');
  reference = await seededModel(7);
  server = await serveModel({ store, port: 0, logger, maxBodyBytes: 64 * 1024, predictionLog: { chunkRecords: 4 } });
  infer = `${server.url}/v2/models/mnist-digits/infer`;
});

afterAll(async () => {
  await server?.stop();
  await rm(store, { recursive: true, force: true });
});

describe('binary tensor data: answers', () => {
  it('binary in, binary out: the JSON answer\'s probabilities and labels as little-endian FP32 and INT64', async () => {
    const pixels = testImages(3, 21);
    const wanted = await jsonAnswer(pixels);
    const reply = await post(infer, binaryBody({ id: 'bin-1', inputs: [uint8Input(pixels)], parameters: { binary_data_output: true } }, [pixels]));
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/application\/octet-stream/);
    expect(reply.headers.get('x-model-version')).toBe('1');
    expect(reply.json).toEqual({
      model_name: 'mnist-digits',
      model_version: '1',
      id: 'bin-1',
      parameters: { prediction_ids: ['bin-1#0', 'bin-1#1', 'bin-1#2'] },
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [3, 10], parameters: { binary_data_size: 120 } },
        { name: 'label', datatype: 'INT64', shape: [3], parameters: { binary_data_size: 24 } },
      ],
    });
    expect(float32s(reply.binary.get('probabilities')!)).toEqual(wanted.probabilities);
    expect(int64s(reply.binary.get('label')!)).toEqual(wanted.labels);
    // And both are the registered model's own answer.
    const { tf } = await loadTensorFlow();
    const own = tf.tidy(() => (reference.predict(tf.tensor(Float32Array.from(pixels, (p) => p / 255), [3, 28, 28, 1])) as tfjs.Tensor).dataSync() as Float32Array);
    float32s(reply.binary.get('probabilities')!).forEach((p, i) => expect(Math.abs(p - own[i])).toBeLessThan(1e-5));
  });

  it('binary in, JSON out when the request does not ask for binary; FP32 [n,28,28,1] bytes answer as the same UINT8 images', async () => {
    const pixels = testImages(2, 22);
    const wanted = await jsonAnswer(pixels);
    const asJson = await post(infer, binaryBody({ inputs: [uint8Input(pixels)] }, [pixels]));
    expect(asJson.status).toBe(200);
    expect(asJson.headers.get('content-type')).toMatch(/application\/json/);
    expect(asJson.headers.get('inference-header-content-length')).toBeNull();
    expect(asJson.json.outputs[0].data.map(Math.fround)).toEqual(wanted.probabilities);
    expect(asJson.json.outputs[1]).toEqual({ name: 'label', datatype: 'INT64', shape: [2], data: wanted.labels });

    const features = Buffer.from(Float32Array.from(pixels, (p) => p / 255).buffer);
    const fp32 = await post(infer, binaryBody({ inputs: [{ name: 'image', datatype: 'FP32', shape: [2, 28, 28, 1], parameters: { binary_data_size: features.length } }], parameters: { binary_data_output: true } }, [features]));
    expect(fp32.status).toBe(200);
    expect(float32s(fp32.binary.get('probabilities')!)).toEqual(wanted.probabilities);
  });

  it('mixes binary and JSON outputs: per-output binary_data, overriding the request-wide binary_data_output', async () => {
    const pixels = testImages(2, 23);
    const wanted = await jsonAnswer(pixels);
    const perOutput = await post(infer, binaryBody({ inputs: [uint8Input(pixels)], outputs: [{ name: 'probabilities', parameters: { binary_data: true } }, { name: 'label' }] }, [pixels]));
    expect(perOutput.json.outputs).toEqual([
      { name: 'probabilities', datatype: 'FP32', shape: [2, 10], parameters: { binary_data_size: 80 } },
      { name: 'label', datatype: 'INT64', shape: [2], data: wanted.labels },
    ]);
    expect(float32s(perOutput.binary.get('probabilities')!)).toEqual(wanted.probabilities);

    const overridden = await post(infer, binaryBody({ inputs: [uint8Input(pixels)], outputs: [{ name: 'probabilities', parameters: { binary_data: false } }, { name: 'label' }], parameters: { binary_data_output: true } }, [pixels]));
    expect(overridden.json.outputs[0].data.map(Math.fround)).toEqual(wanted.probabilities);
    expect(int64s(overridden.binary.get('label')!)).toEqual(wanted.labels);

    // A JSON request may ask for binary outputs too.
    const fromJson = await post(infer, { body: Buffer.from(JSON.stringify({ ...uint8Request(pixels), outputs: [{ name: 'label', parameters: { binary_data: true } }] })), headers: { 'content-type': 'application/json' } });
    expect(fromJson.json.outputs).toEqual([{ name: 'label', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } }]);
    expect(int64s(fromJson.binary.get('label')!)).toEqual(wanted.labels);
  });

  it('takes a body with Inference-Header-Content-Length and no content type, as Triton\'s Python client sends it', async () => {
    const pixels = testImages(1, 24);
    const wanted = await jsonAnswer(pixels);
    const { body, headers } = binaryBody({ inputs: [uint8Input(pixels)], parameters: { binary_data_output: true } }, [pixels]);
    const reply = await post(infer, { body, headers: { 'inference-header-content-length': headers['inference-header-content-length'] } });
    expect(reply.status).toBe(200);
    expect(float32s(reply.binary.get('probabilities')!)).toEqual(wanted.probabilities);
  });
});

describe('binary tensor data: bad input', () => {
  const pixels = testImages(2, 30);
  const header = { inputs: [uint8Input(pixels)] };
  const nan = Buffer.from(new Float32Array(784).fill(0.5).map((v, i) => (i === 5 ? NaN : v)).buffer);
  const cases: [string, { body: Buffer; headers: Record<string, string> }, RegExp][] = [
    ['a header length larger than the body', binaryBody(header, [pixels], 5000), /Inference-Header-Content-Length is 5000 but the body has only \d+ bytes/],
    ['a header length that is not a number', binaryBody(header, [pixels], 'twelve'), /Inference-Header-Content-Length is "twelve": expected the length in bytes of the JSON header/],
    ['a header length that cuts the JSON short', binaryBody(header, [pixels], 20), /the JSON header \(the first 20 bytes, per Inference-Header-Content-Length\) is not valid JSON/],
    ['bytes left over after the inputs', binaryBody(header, [pixels, new Uint8Array(10)]), /the body has 1578 bytes after the JSON header, but the inputs' binary_data_size add up to 1568/],
    ['a body shorter than the sizes', binaryBody(header, [pixels.subarray(0, 1000)]), /inputs\[0\] has binary_data_size 1568, but only 1000 bytes are left/],
    ['a missing size', binaryBody({ inputs: [{ name: 'image', datatype: 'UINT8', shape: [2, 784] }] }, [pixels]), /inputs\[0\] has neither "data" nor parameters.binary_data_size/],
    ['a size that does not fit the shape', binaryBody({ inputs: [{ ...uint8Input(pixels), shape: [3, 784] }] }, [pixels]), /binary_data_size 1568, but shape \[3,784\] of UINT8 needs 2352 bytes/],
    ['a size that is not a whole number', binaryBody({ inputs: [uint8Input(pixels, { binary_data_size: '1568' })] }, [pixels]), /binary_data_size is "1568": expected the input's size in bytes/],
    ['both data and a size', binaryBody({ inputs: [{ ...uint8Input(pixels), data: [1, 2] }] }, [pixels]), /inputs\[0\] has both "data" and parameters.binary_data_size/],
    ['a NaN in FP32 bytes', binaryBody({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 784], parameters: { binary_data_size: nan.length } }] }, [nan]), /inputs\[0\].data\[5\] is NaN: FP32 pixels must be in \[0, 1\]/],
    ['binary_data that is not true or false', binaryBody({ ...header, outputs: [{ name: 'label', parameters: { binary_data: 'yes' } }] }, [pixels]), /outputs\[0\].parameters.binary_data is "yes": expected true or false/],
    ['a size in a JSON body without binary data', { body: Buffer.from(JSON.stringify(header)), headers: { 'content-type': 'application/json' } }, /gives parameters.binary_data_size but the request has no binary data: send the JSON header's length/],
  ];

  it.each(cases)('%s is a 400 naming what is wrong', async (_what, request, message) => {
    const reply = await post(infer, request);
    expect(reply.status).toBe(400);
    expect(Object.keys(reply.json)).toEqual(['error']);
    expect(reply.json.error).toMatch(message);
  });

  it('keeps the body limit (413), refuses binary bodies on other routes (415), and keeps serving', async () => {
    const big = testImages(100, 31); // 78,400 bytes > 64 KiB
    const tooBig = await post(infer, binaryBody({ inputs: [uint8Input(big)] }, [big]));
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.error).toMatch(/over the limit of 65536 bytes/);
    const mlflow = await post(`${server.url}/invocations`, binaryBody(header, [pixels]));
    expect(mlflow.status).toBe(415);
    expect(mlflow.json).toEqual({ error_code: 'BAD_REQUEST', message: expect.stringMatching(/must be JSON: send Content-Type: application\/json/) });
    expect((await post(infer, binaryBody(header, [pixels]))).status).toBe(200);
  });
});

describe('binary tensor data: prediction log', () => {
  it('records a binary request: its id, pixels, probabilities and label', async () => {
    const own = await mkdtemp(join(tmpdir(), 'serve-binary-log-'));
    try {
      await registerSeededModel(own, 'mnist-digits', 7, 'champion');
      const logged = await serveModel({ store: own, port: 0, logger, predictionLog: { chunkRecords: 100 } });
      const pixels = testImages(2, 40);
      const reply = await post(`${logged.url}/v2/models/mnist-digits/infer`, binaryBody({ id: 'bin-log', inputs: [uint8Input(pixels)], parameters: { binary_data_output: true } }, [pixels]));
      expect(reply.status).toBe(200);
      await logged.stop();
      const records = await readPredictionLog(own, 'mnist-digits');
      expect(records.map((r) => r.requestId)).toEqual(['bin-log#0', 'bin-log#1']);
      expect(recordPixels(records[1])).toEqual(pixels.subarray(784, 2 * 784));
      const probabilities = float32s(reply.binary.get('probabilities')!);
      expect(records.flatMap((r) => r.probabilities)).toEqual(probabilities);
      expect(records.map((r) => r.label)).toEqual(int64s(reply.binary.get('label')!));
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});
