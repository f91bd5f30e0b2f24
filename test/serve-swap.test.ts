import type * as tfjs from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { ModelRegistry } from '../tasks/registry/registry';
import { type ModelServer, serveModel } from '../tasks/serving';
import { loadTensorFlow } from '../tasks/tf/tf-backend';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerBrokenModel, registerSeededModel, registerWrongShapeModel, seededModel } from './fixtures/serve-models';
import { freshBucket, s3Endpoint, s3TestClient } from './helpers/s3';
import { s3rverCredentials } from './helpers/s3-server';

const logger = createLogger({ level: 'silent' });
const images = testImages(8, 42);
const imageAt = (i: number) => images.subarray((i % 8) * 784, ((i % 8) + 1) * 784);

/** Reference probabilities of each image under each seeded model, computed in this process. */
async function referenceOf(seed: number): Promise<Float32Array[]> {
  const { tf } = await loadTensorFlow();
  const model: tfjs.LayersModel = await seededModel(seed);
  const rows = Array.from({ length: 8 }, (_, i) =>
    tf.tidy(() => (model.predict(tf.tensor(Float32Array.from(imageAt(i), (p) => p / 255), [1, 28, 28, 1])) as tfjs.Tensor).dataSync() as Float32Array),
  );
  model.dispose();
  return rows;
}

interface Observation {
  status: number;
  version: string | undefined;
  matches: boolean;
}

/** `clients` loops of requests until `stop()`; each answer is checked against the model of the version it names. */
function load(url: string, clients: number, references: Map<string, Float32Array[]>) {
  const seen: Observation[][] = Array.from({ length: clients }, () => []);
  let running = true;
  const loops = seen.map(async (mine, c) => {
    for (let i = c; running; i += clients) {
      try {
        const reply = await call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(imageAt(i)) });
        const version = reply.body?.model_version as string | undefined;
        const wanted = version === undefined ? undefined : references.get(version)?.[i % 8];
        const got: number[] = reply.body?.outputs?.[0]?.data ?? [];
        const matches = wanted !== undefined && got.length === 10 && got.every((v, k) => Math.abs(v - wanted[k]) < 1e-5);
        mine.push({ status: reply.status, version, matches });
      } catch {
        mine.push({ status: 0, version: undefined, matches: false });
      }
    }
  });
  return {
    seen,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return seen.flat();
    },
  };
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const metric = async (url: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await call(`${url}/metrics`)).body as string)?.[1] ?? NaN);

describe('hot swap on a local store', () => {
  let store: string;
  let server: ModelServer;
  const references = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    store = await mkdtemp(join(tmpdir(), 'serve-swap-'));
    await registerSeededModel(store, 'mnist-digits', 11, 'champion');
    await registerSeededModel(store, 'mnist-digits', 12);
    references.set('1', await referenceOf(11));
    references.set('2', await referenceOf(12));
    server = await serveModel({ store, port: 0, logger, pollMs: 100, batching: { maxBatchSize: 8, maxWaitMs: 1 }, predictionLog: false });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(store, { recursive: true, force: true });
  });

  it('swaps to the version the alias moves to under concurrent load: no failed request, every answer from the version it names', async () => {
    const traffic = load(server.url, 16, references);
    await until(() => traffic.seen.flat().length > 200, 'traffic on version 1');
    await new ModelRegistry(store, 'mnist-digits').setAlias('champion', 2, 'swap test');
    await until(() => traffic.seen.flat().filter((o) => o.version === '2').length > 200, 'traffic on version 2');
    const all = await traffic.stop();
    expect(all.filter((o) => o.status !== 200)).toEqual([]);
    expect(all.filter((o) => !o.matches)).toEqual([]);
    expect(new Set(all.map((o) => o.version))).toEqual(new Set(['1', '2']));
    // Atomic: once a client has an answer from version 2, it never gets one from version 1 again.
    for (const mine of traffic.seen) {
      const first2 = mine.findIndex((o) => o.version === '2');
      expect(mine.slice(first2).every((o) => o.version === '2')).toBe(true);
    }
    expect(await metric(server.url, 'dagwright_serve_reloads_total')).toBe(1);
    expect((await call(`${server.url}/v2/models/mnist-digits`)).body.versions).toEqual(['2']);
  });

  it('refuses a version that cannot load or warm, keeps serving the old one, and takes the next good one', async () => {
    const registry = new ModelRegistry(store, 'mnist-digits');
    const broken = await registerBrokenModel(store, 'mnist-digits', 'champion');
    await until(async () => (await metric(server.url, 'dagwright_serve_reloads_refused_total')) === 1, 'the truncated version to be refused');
    const reply = await call(`${server.url}/v2/models/mnist-digits/infer`, { body: uint8Request(imageAt(0)) });
    expect(reply).toMatchObject({ status: 200, body: { model_version: '2' } });
    expect(broken).toBe(3);

    await registerWrongShapeModel(store, 'mnist-digits', 'champion');
    await until(async () => (await metric(server.url, 'dagwright_serve_reloads_refused_total')) === 2, 'the wrong-shape version to be refused');
    expect((await call(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect((await call(`${server.url}/v2/models/mnist-digits/infer`, { body: uint8Request(imageAt(1)) })).body.model_version).toBe('2');

    const good = await registerSeededModel(store, 'mnist-digits', 13);
    references.set(String(good), await referenceOf(13));
    await registry.setAlias('champion', good, 'a good one again');
    await until(async () => (await call(`${server.url}/v2/health/ready`)).status === 200 && server.version === good, `version ${good}`);
    const after = await call(`${server.url}/v2/models/mnist-digits/infer`, { body: uint8Request(imageAt(2)) });
    expect(after.body.model_version).toBe(String(good));
    expect(after.body.outputs[0].data[0]).toBeCloseTo(references.get(String(good))![2][0], 5);
    expect(await metric(server.url, 'dagwright_serve_reloads_total')).toBe(2);
  });
});

describe('hot swap on an S3 store (ETag polling)', () => {
  it('notices the alias move by polling and swaps', async () => {
    process.env.AWS_ENDPOINT_URL = s3Endpoint();
    process.env.DAGWRIGHT_S3_FORCE_PATH_STYLE = '1';
    process.env.AWS_ACCESS_KEY_ID = s3rverCredentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3rverCredentials.secretAccessKey;
    const bucket = await freshBucket(s3TestClient(), 'serve-swap');
    const store = `s3://${bucket}/store`;
    await registerSeededModel(store, 'mnist-digits', 21, 'champion');
    await registerSeededModel(store, 'mnist-digits', 22);
    const server = await serveModel({ store, port: 0, logger, pollMs: 200, predictionLog: { chunkRecords: 2 } });
    try {
      expect((await call(`${server.url}/v2/models/mnist-digits/infer`, { body: uint8Request(imageAt(0)) })).body.model_version).toBe('1');
      await new ModelRegistry(store, 'mnist-digits').setAlias('champion', 2, 's3 swap test');
      await until(async () => (await call(`${server.url}/v2/models/mnist-digits/infer`, { body: uint8Request(imageAt(1)) })).body.model_version === '2', 'version 2 on S3');
    } finally {
      await server.stop();
    }
  });
});
