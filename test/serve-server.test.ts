import type * as tfjs from '@tensorflow/tfjs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { loadTensorFlow } from '../tasks/tf/tf-backend';
import { ModelServer, readPredictionLog, recordPixels, serveModel } from '../tasks/serving';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel, seededModel } from './fixtures/serve-models';

const logger = createLogger({ level: 'silent' });
let store: string;
let server: ModelServer;
let base: string;
let reference: tfjs.LayersModel;

/** What the registered model says for these images, computed in this process. */
async function expected(pixels: Uint8Array): Promise<Float32Array> {
  const { tf } = await loadTensorFlow();
  const count = pixels.length / 784;
  return tf.tidy(() => (reference.predict(tf.tensor(Float32Array.from(pixels, (p) => p / 255), [count, 28, 28, 1])) as tfjs.Tensor).dataSync() as Float32Array);
}

function expectClose(actual: readonly number[], wanted: Float32Array): void {
  expect(actual).toHaveLength(wanted.length);
  actual.forEach((v, i) => expect(Math.abs(v - wanted[i])).toBeLessThan(1e-5));
}

const argmax = (row: ArrayLike<number>) => Array.from(row).reduce((best, v, i, all) => (v > all[best] ? i : best), 0);

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'serve-server-'));
  await registerSeededModel(store, 'mnist-digits', 7, 'champion');
  reference = await seededModel(7);
  server = await serveModel({ store, port: 0, logger, batching: { maxBatchSize: 16, maxWaitMs: 2 }, predictionLog: { chunkRecords: 50 } });
  base = server.url;
});

afterAll(async () => {
  await server?.stop();
  await rm(store, { recursive: true, force: true });
});

describe('model server: Open Inference Protocol V2 routes', () => {
  it('answers health, server and model metadata with -1 batch dimensions', async () => {
    expect(await call(`${base}/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
    expect(await call(`${base}/v2/health/ready`)).toMatchObject({ status: 200, body: { ready: true } });
    expect((await call(`${base}/v2`)).body).toMatchObject({ name: 'dagwright', extensions: ['binary_tensor_data'] });
    const metadata = await call(`${base}/v2/models/mnist-digits`);
    expect(metadata.status).toBe(200);
    expect(metadata.body).toEqual({
      name: 'mnist-digits',
      versions: ['1'],
      platform: 'tensorflowjs',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28, 1] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    });
    expect((await call(`${base}/v2/models/mnist-digits/versions/1`)).body.name).toBe('mnist-digits');
    expect(await call(`${base}/v2/models/mnist-digits/ready`)).toMatchObject({ status: 200, body: { ready: true, version: '1' } });
    expect(await call(`${base}/v2/models/mnist-digits/versions/1/ready`)).toMatchObject({ status: 200, body: { ready: true } });
  });

  it('infers UINT8 [n,784] and FP32 [n,28,28,1] (nested) with the registered model, naming the version', async () => {
    const pixels = testImages(3, 1);
    const wanted = await expected(pixels);
    const reply = await call(`${base}/v2/models/mnist-digits/infer`, { body: uint8Request(pixels, 'flat', 'req-1') });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-model-version')).toBe('1');
    expect(reply.body).toMatchObject({ model_name: 'mnist-digits', model_version: '1', id: 'req-1' });
    const [probabilities, label] = reply.body.outputs;
    expect(probabilities).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [3, 10] });
    expectClose(probabilities.data, wanted);
    expect(label).toEqual({ name: 'label', datatype: 'INT64', shape: [3], data: [0, 1, 2].map((i) => argmax(wanted.subarray(i * 10, i * 10 + 10))) });

    const nested = Array.from({ length: 3 }, (_, n) => Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => [pixels[n * 784 + y * 28 + x] / 255])));
    const fp32 = await call(`${base}/v2/models/mnist-digits/versions/1/infer`, { body: { inputs: [{ name: 'image', datatype: 'FP32', shape: [3, 28, 28, 1], data: nested }], outputs: [{ name: 'probabilities' }] } });
    expect(fp32.status).toBe(200);
    expect(fp32.body.outputs).toHaveLength(1);
    expectClose(fp32.body.outputs[0].data, wanted);
  });

  it('reads JSON data in any number form, and batches larger than its reader keeps a buffer for, as the model does', async () => {
    const pixels = testImages(90, 11); // 70,560 values
    const wanted = await expected(pixels);
    const big = await call(`${base}/v2/models/mnist-digits/infer`, { body: uint8Request(pixels) });
    expect(big.status).toBe(200);
    expectClose(big.body.outputs[0].data, wanted);
    // The same images as FP32 written three ways: 17-digit doubles, exponents, and with spaces.
    const three = pixels.subarray(0, 3 * 784);
    const values = Array.from(three, (p) => p / 255);
    const forms = [values.map(String), values.map((v) => v.toExponential(12)), values.map((v) => ` ${v.toFixed(6)}\n`)];
    for (const form of forms) {
      const raw = `{"inputs": [{"name": "image", "datatype": "FP32", "shape": [3, 784], "data": [${form.join(',')}]}]}`;
      const reply = await call(`${base}/v2/models/mnist-digits/infer`, { raw });
      expect(reply.status).toBe(200);
      reply.body.outputs[0].data.forEach((v: number, i: number) => expect(Math.abs(v - wanted[i])).toBeLessThan(1e-4));
    }
  });

  it('answers MLflow scoring routes: /ping and /invocations with inputs or instances', async () => {
    expect((await call(`${base}/ping`)).status).toBe(200);
    const pixels = testImages(2, 2);
    const wanted = await expected(pixels);
    const rows = [0, 1].map((n) => Array.from(pixels.subarray(n * 784, (n + 1) * 784), (p) => p / 255));
    const inputs = await call(`${base}/invocations`, { body: { inputs: rows } });
    expect(inputs.status).toBe(200);
    expect(inputs.body.model_version).toBe('1');
    expect(inputs.body.predictions).toHaveLength(2);
    expectClose(inputs.body.predictions.flatMap((p: { probabilities: number[] }) => p.probabilities), wanted);
    expect(inputs.body.predictions[1].label).toBe(argmax(wanted.subarray(10, 20)));
    const instances = await call(`${base}/invocations`, { body: { instances: [0, 1].map((n) => Array.from(pixels.subarray(n * 784, (n + 1) * 784))), params: { datatype: 'UINT8' } } });
    expect(instances.status).toBe(200);
    expectClose(instances.body.predictions.flatMap((p: { probabilities: number[] }) => p.probabilities), wanted);
  });
});

describe('model server: bad input', () => {
  const infer = (body: unknown) => call(`${base}/v2/models/mnist-digits/infer`, { body });
  const tensor = (over: object) => ({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 784], data: new Array(784).fill(0.5), ...over }] });

  it.each([
    ['a wrong shape', tensor({ shape: [1, 27, 27, 1] }), /input shape \[1,27,27,1\] is not accepted: expected \[n,28,28,1\] or \[n,784\]/],
    ['an unknown datatype', tensor({ datatype: 'INT32' }), /datatype is "INT32": expected "FP32".*or "UINT8"/],
    ['too few values for the shape', tensor({ data: new Array(700).fill(0.5) }), /has 700 values but shape \[1,784\] needs 784/],
    ['an FP32 value outside [0, 1]', tensor({ data: [...new Array(783).fill(0.5), 3] }), /data\[783\] is 3: FP32 pixels must be in \[0, 1\]/],
    ['a null (NaN) value', tensor({ data: [null, ...new Array(783).fill(0.5)] }), /data\[0\] is null: expected a number/],
    ['a UINT8 value over 255', tensor({ datatype: 'UINT8', data: [...new Array(783).fill(1), 256] }), /is 256: UINT8 pixels must be whole numbers 0-255/],
    ['two input tensors', { inputs: [tensor({}).inputs[0], tensor({}).inputs[0]] }, /"inputs" must be a list of one tensor/],
    ['an unknown input name', tensor({ name: 'pixels' }), /this model's input is "image"/],
    ['an unknown output', { ...tensor({}), outputs: [{ name: 'logits' }] }, /output "logits" does not exist/],
    ['a list for a body', [1, 2], /expected a JSON object/],
  ])('%s is a 400 naming what is wrong and what is expected', async (_what, body, message) => {
    const reply = await infer(body);
    expect(reply.status).toBe(400);
    expect(Object.keys(reply.body)).toEqual(['error']);
    expect(reply.body.error).toMatch(message);
  });

  it('refuses non-JSON (400), a wrong content type (415), unknown models, versions and routes (404)', async () => {
    const broken = await call(`${base}/v2/models/mnist-digits/infer`, { raw: '{"inputs": [' });
    expect(broken.status).toBe(400);
    expect(broken.body.error).toMatch(/not valid JSON/);
    const text = await call(`${base}/v2/models/mnist-digits/infer`, { raw: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.error).toMatch(/application\/json/);
    const model = await call(`${base}/v2/models/fashion/infer`, { body: tensor({}) });
    expect(model).toMatchObject({ status: 404, body: { error: expect.stringMatching(/model "fashion" is not served here; this server serves "mnist-digits"/) } });
    const version = await call(`${base}/v2/models/mnist-digits/versions/9/infer`, { body: tensor({}) });
    expect(version).toMatchObject({ status: 404, body: { error: expect.stringMatching(/version "9" .* this server serves version 1/) } });
    expect((await call(`${base}/v2/models/mnist-digits/versions/9`)).status).toBe(404);
    const route = await call(`${base}/v1/models/mnist-digits:predict`, { body: {} });
    expect(route.status).toBe(404);
    expect(route.body.error).toMatch(/no route POST/);
    const mlflow = await call(`${base}/invocations`, { body: { inputs: [[1, 2]], instances: [[1]] } });
    expect(mlflow).toMatchObject({ status: 400, body: { error_code: 'BAD_REQUEST', message: expect.stringMatching(/exactly one of the input fields/) } });
    expect((await call(`${base}/invocations`, { body: { inputs: [[0.5, 0.5]] } })).body.message).toMatch(/instances\[0\] has 2 values: expected an image of 28x28x1 = 784/);
    // Still serving.
    expect((await infer(tensor({}))).status).toBe(200);
  });

  it('refuses a body over the limit with 413 and keeps serving', async () => {
    const small = await serveModel({ store, port: 0, logger, maxBodyBytes: 64 * 1024, predictionLog: false });
    try {
      const big = await call(`${small.url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(40, 3)) });
      expect(big.status).toBe(413);
      expect(big.body.error).toMatch(/over the limit of 65536 bytes: send fewer images per request/);
      expect((await call(`${small.url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 3)) })).status).toBe(200);
    } finally {
      await small.stop();
    }
  });
});

describe('model server: batching, token, readiness, metrics, prediction log', () => {
  it('never mixes replies under concurrency: each request gets its own images back', async () => {
    const requests = Array.from({ length: 120 }, (_, i) => testImages(1 + (i % 3), 100 + i));
    const replies = await Promise.all(requests.map((pixels, i) => call(`${base}/v2/models/mnist-digits/infer`, { body: uint8Request(pixels, 'flat', `mix-${i}`) })));
    for (const [i, reply] of replies.entries()) {
      expect(reply.status).toBe(200);
      expect(reply.body.id).toBe(`mix-${i}`);
      expectClose(reply.body.outputs[0].data, await expected(requests[i]));
    }
    const metrics = (await call(`${base}/metrics`)).body as string;
    // Some model calls held more than one request.
    const sum = Number(/dagwright_serve_batch_size_sum (\d+)/.exec(metrics)![1]);
    const count = Number(/dagwright_serve_batch_size_count (\d+)/.exec(metrics)![1]);
    expect(sum / count).toBeGreaterThan(1.5);
  });

  it('predicts the same in a worker thread (--predict-in worker) as on the server thread', async () => {
    const worker = await serveModel({ store, port: 0, logger, predictIn: 'worker', predictionLog: false });
    try {
      const pixels = testImages(4, 77);
      const replies = await Promise.all([0, 1, 2, 3].map((i) => call(`${worker.url}/v2/models/mnist-digits/infer`, { body: uint8Request(pixels.subarray(i * 784, (i + 1) * 784)) })));
      const wanted = await expected(pixels);
      replies.forEach((reply, i) => expectClose(reply.body.outputs[0].data, wanted.subarray(i * 10, i * 10 + 10)));
    } finally {
      await worker.stop();
    }
  });

  it('needs the bearer token when started with one; health checks stay open', async () => {
    const guarded = await serveModel({ store, port: 0, logger, token: 's3cret-token', predictionLog: false });
    try {
      const body = uint8Request(testImages(1, 4));
      const none = await call(`${guarded.url}/v2/models/mnist-digits/infer`, { body });
      expect(none.status).toBe(401);
      expect(none.body.error).toMatch(/Authorization: Bearer <token>/);
      expect((await call(`${guarded.url}/v2/models/mnist-digits/infer`, { body, headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await call(`${guarded.url}/v2/models/mnist-digits/infer`, { body, headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
      expect((await call(`${guarded.url}/metrics`)).status).toBe(401);
      expect((await call(`${guarded.url}/v2/health/ready`)).status).toBe(200);
      expect((await call(`${guarded.url}/ping`)).status).toBe(200);
    } finally {
      await guarded.stop();
    }
  });

  it('answers 503 until the alias names a version, then serves it', async () => {
    const waiting = new ModelServer({ store, model: 'not-yet', port: 0, logger, waitForModel: true, pollMs: 100, predictionLog: false });
    await waiting.start();
    try {
      expect((await call(`${waiting.url}/v2/health/live`)).status).toBe(200);
      expect((await call(`${waiting.url}/v2/health/ready`)).status).toBe(503);
      const early = await call(`${waiting.url}/v2/models/not-yet/infer`, { body: uint8Request(testImages(1, 5)) });
      expect(early).toMatchObject({ status: 503, body: { error: expect.stringMatching(/not loaded yet; retry when GET \/v2\/health\/ready answers 200/) } });
      await registerSeededModel(store, 'not-yet', 8, 'champion');
      const deadline = Date.now() + 10_000;
      while ((await call(`${waiting.url}/v2/health/ready`)).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await call(`${waiting.url}/v2/models/not-yet/infer`, { body: uint8Request(testImages(1, 5)) })).body.model_version).toBe('1');
    } finally {
      await waiting.stop();
    }
  });

  it('refuses to start on an unknown model, naming it', async () => {
    await expect(serveModel({ store, model: 'no-such-model', port: 0, logger })).rejects.toThrow(/model "no-such-model" has no alias "champion"/);
  });

  it('exposes metrics: requests by route and status, latency, batch sizes, classes, version, drift', async () => {
    await mkdir(join(store, 'monitoring', 'mnist-digits'), { recursive: true });
    await writeFile(
      join(store, 'monitoring', 'mnist-digits', 'latest.json'),
      JSON.stringify({
        time: '2026-12-01T10:00:00.000Z',
        model: 'mnist-digits',
        version: 1,
        drift: true,
        window: { last: 100 },
        tests: [
          { name: 'ks_probabilities', statistic: 0.41, pValue: 0.0001, threshold: 0.05, drift: true },
          { name: 'chi2_labels', statistic: 3.2, pValue: 0.7, threshold: 0.05, drift: false },
        ],
        report: 'file:///r.json',
        html: 'file:///r.html',
      }),
    );
    await call(`${base}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(2, 6)) });
    const reply = await call(`${base}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/text\/plain/);
    const text = reply.body as string;
    expect(text).toMatch(/dagwright_serve_requests_total\{route="\/v2\/models\/:name\/infer",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/dagwright_serve_requests_total\{route="\/v2\/models\/:name\/infer",method="POST",status="400"\} \d+/);
    expect(text).toMatch(/dagwright_serve_request_duration_seconds_bucket\{le="0.05",route="\/v2\/models\/:name\/infer"\} \d+/);
    expect(text).toMatch(/dagwright_serve_batch_size_count \d+/);
    expect(text).toContain('dagwright_serve_model_info{model="mnist-digits",version="1",alias="champion"} 1');
    const classCounts = [...text.matchAll(/dagwright_serve_predicted_class_total\{label="(\d)"\} (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0);
    const batched = Number(/dagwright_serve_batch_size_sum (\d+)/.exec(text)![1]);
    expect(classCounts).toBe(batched); // every image answered is counted once, by its label
    expect(text).toContain('dagwright_drift_detected{model="mnist-digits",version="1"} 1');
    expect(text).toContain('dagwright_drift_p_value{test="ks_probabilities"} 0.0001');
    expect(text).toContain('dagwright_drift_p_value{test="chi2_labels"} 0.7');
    expect(text).toContain('dagwright_drift_report_available 1');
  });

  it('logs every image with its version; stop() flushes the open chunk', async () => {
    const own = await mkdtemp(join(tmpdir(), 'serve-log-server-'));
    try {
      await registerSeededModel(own, 'mnist-digits', 7, 'champion');
      const logged = await serveModel({ store: own, port: 0, logger, predictionLog: { chunkRecords: 4 } });
      const pixels = testImages(5, 9);
      await call(`${logged.url}/v2/models/mnist-digits/infer`, { body: uint8Request(pixels, 'flat', 'log-me') });
      await call(`${logged.url}/invocations`, { body: { instances: [Array.from(pixels.subarray(0, 784), (p) => p / 255)] }, headers: { 'x-request-id': 'mlflow-1' } });
      await logged.stop();
      const records = await readPredictionLog(own, 'mnist-digits');
      expect(records.map((r) => r.requestId)).toEqual(['log-me#0', 'log-me#1', 'log-me#2', 'log-me#3', 'log-me#4', 'mlflow-1']);
      expect(records.every((r) => r.version === 1 && r.model === 'mnist-digits' && r.shape.join() === '28,28')).toBe(true);
      expect(recordPixels(records[3])).toEqual(pixels.subarray(3 * 784, 4 * 784));
      expect(recordPixels(records[5])).toEqual(pixels.subarray(0, 784));
      const wanted = await expected(pixels);
      expectClose([...records[2].probabilities], wanted.subarray(20, 30));
      expect(records[2].label).toBe(argmax(wanted.subarray(20, 30)));
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});
