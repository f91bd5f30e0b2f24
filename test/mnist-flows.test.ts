import { parseStore } from '../src/store/store';
/**
 * The MNIST flows end to end on small slices (5,000 images, one epoch,
 * batch 32: about 92% test accuracy), in process on a local store, then the
 * same model once more through an S3 source and store. The tests share one
 * store and run in order: each builds on the registry the previous left.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, taskContext } from '../src/public/runtime';
import { run, type RunSummary, runFlow, S3Target } from '../src';
import { registerFlow } from '../flows/register';
import { trainFlow } from '../flows/train';
import { EvaluateModel, type EvaluationRecord } from '../tasks/mnist/evaluate-task';
import { loadModelFrom } from '../tasks/training/model-io';
import { evaluate } from '../tasks/training/evaluate';
import { float32, readDataset, uint8 } from '../tasks/data/dataset-files';
import { PreprocessTestSet } from '../tasks/mnist/preprocess-task';
import { RegisterModel } from '../tasks/mnist/register-task';
import { MNIST_FILES, PACKAGED_SOURCE, sourceLocation } from '../tasks/mnist/source';
import { loadTensorFlow } from '../tasks/tf/tf-backend';
import { METRICS_JSON, TRAINING_JSON, TrainModel, type TrainingMetrics, type TrainingRecord } from '../tasks/mnist/train-task';
import { registryCli } from '../app/cli/registry';
import { ModelRegistry } from '../tasks/registry/registry';
import { runFlowProcess } from './helpers/flow-process';
import { freshBucket, s3Endpoint, s3TestClient, s3TestFileSystem } from './helpers/s3';
import { s3rverCredentials } from './helpers/s3-server';
import { readRunTracking } from '../src/tracking/read-tracking';

let store: string;
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-mnist-flows-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

const quiet = createLogger({ level: 'silent' });
/** Model A: the first 5,000 images, one epoch. */
const modelA = { increment: 1, incrementSize: 5000, epochs: 1, batchSize: 32 };
/** Model B: worse than A (batch 64: half the steps). */
const modelB = { ...modelA, batchSize: 64 };
/** Model C: better than A (increment 2: twice the images). */
const modelC = { ...modelA, increment: 2 };

function argv(params: Record<string, number | string>, extra: string[] = []): string[] {
  const flags = Object.entries(params).flatMap(([k, v]) => [`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(v)]);
  return [...flags, '--store', store, '--executor', 'inprocess', '--log-level', 'warn', ...extra];
}

/** The flow's roots with every default, as runFlow would make them. */
function roots(flow: typeof registerFlow | typeof trainFlow, params: Record<string, number | string>) {
  const defaults = Object.fromEntries(Object.entries(flow.params).map(([name, spec]) => [name, spec.default]));
  return flow.roots({ ...defaults, ...params } as never, { store });
}

const ranIn = (summary: RunSummary) => summary.tasks.filter((t) => t.status === 'ran').map((t) => t.family);
const evaluationOf = (params: typeof modelA) =>
  new EvaluateModel({ ...params, store }).output().readJson<EvaluationRecord>();
const registry = () => new ModelRegistry(store, 'mnist-digits');

// Training is seconds on an idle 2-core machine, minutes on a loaded one.
describe('MNIST flows on a local store', { timeout: 600_000 }, () => {
  it('flows/register.ts trains, evaluates and registers the first version as champion, with lineage', async () => {
    expect(await runFlow(registerFlow, { argv: argv(modelA, ['--tags', 'suite=mnist']), exit: false })).toBe(0);

    const evaluation = await evaluationOf(modelA);
    expect(evaluation.testAccuracy).toBeGreaterThan(0.85);
    expect(evaluation.examples).toBe(10_000);
    expect(evaluation.perClassAccuracy).toHaveLength(10);
    expect(evaluation.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(evaluation.confusionMatrix.reduce((sum, row, c) => sum + row[c], 0)).toBe(evaluation.correct);
    // Scored on ONNX Runtime through the export (the model as it is served); TF.js agrees on all but a near tie or two.
    expect(evaluation.backend).toBe('onnxruntime');
    const test = await readDataset(new PreprocessTestSet({ store }).output(), ['testImages', 'testLabels']);
    const { tf } = await loadTensorFlow();
    const trained = await loadModelFrom(tf, new TrainModel({ ...modelA, store }).output());
    const onTfjs = await evaluate({ tf, model: trained, images: float32(test, 'testImages'), labels: uint8(test, 'testLabels') }).finally(() => trained.dispose());
    expect(Math.abs(onTfjs.accuracy * 10_000 - evaluation.correct)).toBeLessThanOrEqual(2);

    const modelDir = new TrainModel({ ...modelA, store }).output();
    expect((await modelDir.list()).sort()).toEqual(['metrics.json', 'model.json', 'training.json', 'weights.bin']);
    const metrics = await modelDir.file(METRICS_JSON).readJson<TrainingMetrics>();
    expect(metrics.epochs).toHaveLength(1);
    expect(metrics.epochs[0]).toMatchObject({ epoch: 1, loss: expect.any(Number), accuracy: expect.any(Number), valAccuracy: expect.any(Number), samplesPerSecond: expect.any(Number), wallSeconds: expect.any(Number) });
    const training = await modelDir.file(TRAINING_JSON).readJson<TrainingRecord>();
    // Tracked per epoch and, within it, every 50 of its 149 steps.
    const trainAttempt = (await readRunTracking(parseStore(store), training.runId)).attempts.find((a) => a.taskId === training.taskId)!;
    expect(trainAttempt.metrics.filter((p) => p.key === 'loss').map((p) => p.step)).toEqual([1]);
    const batchSteps = trainAttempt.metrics.filter((p) => p.key === 'batch_loss').map((p) => p.step);
    expect(batchSteps.length).toBeGreaterThanOrEqual(1);
    expect(batchSteps.every((step, i) => step <= 149 && (i === 0 || step - batchSteps[i - 1] >= 50))).toBe(true);

    const versions = await registry().versions();
    expect(versions).toHaveLength(1);
    const v1 = versions[0];
    expect(v1).toMatchObject({ model: 'mnist-digits', version: 1, tags: { suite: 'mnist' }, lineage: { training: { modelSha256: training.modelSha256 } } });
    expect(v1.metrics).toMatchObject({ testAccuracy: evaluation.testAccuracy, validationAccuracy: training.final.valAccuracy });
    expect(await registry().aliases()).toEqual({ champion: 1 });

    const manifest = await readFile(join(training.data.uri, 'manifest.json'));
    const sourceImages = await readFile(join(sourceLocation(PACKAGED_SOURCE), MNIST_FILES.trainImages));
    expect(v1.lineage).toMatchObject({
      data: {
        increment: 1,
        incrementSize: 5000,
        images: 5000,
        train: 4750,
        validation: 250,
        manifestSha256: createHash('sha256').update(manifest).digest('hex'),
        tensors: { trainImages: expect.stringMatching(/^[0-9a-f]{64}$/), trainLabels: expect.stringMatching(/^[0-9a-f]{64}$/) },
        source: { location: PACKAGED_SOURCE, images: { file: MNIST_FILES.trainImages, sha256: createHash('sha256').update(sourceImages).digest('hex') } },
      },
      testData: { manifestSha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      training: {
        params: { epochs: 1, batchSize: 32, learningRate: 0.003, augmentShift: 1, seed: 42, increment: 1, incrementSize: 5000, splitSeed: 42, source: PACKAGED_SOURCE },
        backend: training.backend,
        runId: training.runId,
        taskId: training.taskId,
        code: { package: 'dagwright', version: expect.any(String), gitCommit: expect.toSatisfy((c: unknown) => c === null || /^[0-9a-f]{40}$/.test(String(c))) },
      },
      evaluation: { taskId: evaluation.taskId },
      registration: { runId: expect.any(String) },
    });
    expect(['tensorflow', 'wasm', 'cpu']).toContain(training.backend);

    // The registered files load back through the target IO handler.
    const model = await loadModelFrom(tf, registry().filesOf(1));
    expect(model.outputs[0].shape).toEqual([null, 10]);
    model.dispose();
  });

  it('does nothing the second time, for flows/register.ts and flows/train.ts', async () => {
    const again = await run(roots(registerFlow, modelA), { logger: quiet });
    expect(again.ok).toBe(true);
    expect(ranIn(again)).toEqual([]);
    expect(again.tasks.map((t) => t.status)).toEqual(['complete']);
    const train = await run(roots(trainFlow, modelA), { logger: quiet });
    expect(ranIn(train)).toEqual([]);
    expect(await runFlow(registerFlow, { argv: argv(modelA), exit: false })).toBe(0);
    expect(await registry().versions()).toHaveLength(1);
  });

  it('registers a worse model without moving champion, and a better one that takes it', async () => {
    const worse = await run(roots(registerFlow, modelB), { logger: quiet });
    expect(ranIn(worse).sort()).toEqual(['EvaluateModel', 'RegisterModel', 'TrainModel']); // the data is preprocessed already
    const better = await run(roots(registerFlow, modelC), { logger: quiet });
    expect(ranIn(better).sort()).toEqual(['EvaluateModel', 'PreprocessIncrement', 'RegisterModel', 'TrainModel']);

    const [a, b, c] = await Promise.all([modelA, modelB, modelC].map(evaluationOf));
    expect(b.testAccuracy).toBeLessThan(a.testAccuracy);
    expect(c.testAccuracy).toBeGreaterThan(a.testAccuracy);
    const versions = await registry().versions();
    expect(versions.map((v) => [v.version, v.metrics.testAccuracy])).toEqual([
      [1, a.testAccuracy],
      [2, b.testAccuracy],
      [3, c.testAccuracy],
    ]);
    expect(await registry().aliases()).toEqual({ champion: 3 });
    expect((await registry().aliasHistory()).map((h) => [h.version, h.previous])).toEqual([
      [1, null],
      [3, 1],
    ]);
  });

  it('moves champion by hand with the registry CLI', async () => {
    let out = '';
    const code = await registryCli(['alias', 'champion', '2', '--store', store], (t) => (out += t));
    expect(code).toBe(0);
    expect(out).toBe('champion: 3 -> 2\n');
    expect((await registry().resolve('champion')).version).toBe(2);
  });

  it('does not create a second version when the same trained model is registered again', async () => {
    const task = new RegisterModel({ ...modelA, store });
    expect(await task.complete()).toBe(true);
    await task.run(taskContext({ runId: 'again', taskId: task.id, attempt: 1, signal: new AbortController().signal, logger: quiet }));
    expect((await registry().versions()).map((v) => v.version)).toEqual([1, 2, 3]);
    expect((await registry().resolve('champion')).version).toBe(2);
  });
});

describe('MNIST flows with an S3 source and store', { timeout: 600_000 }, () => {
  it('trains the same model from S3 to S3 (same bytes as locally) and registers it there', async () => {
    const client = s3TestClient();
    const fs = s3TestFileSystem({}, client);
    const bucket = await freshBucket(client, 'mnist');
    const source = `s3://${bucket}/mnist-source`;
    for (const name of Object.values(MNIST_FILES)) {
      await new S3Target(`${source}/${name}`, fs).write(await readFile(join(sourceLocation(PACKAGED_SOURCE), name)));
    }
    const s3Store = `s3://${bucket}/store`;
    const env = {
      AWS_ENDPOINT_URL: s3Endpoint(),
      DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
      AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey,
    };
    const args = ['--source', source, '--increment', '1', '--increment-size', '5000', '--epochs', '1', '--batch-size', '32', '--store', s3Store, '--executor', 'inprocess'];
    const first = await runFlowProcess('flows/register.ts', args, env);
    expect(first.stderr).not.toMatch(/"level":50/);
    expect(first.code).toBe(0);

    const local = await new TrainModel({ ...modelA, store }).output().file(TRAINING_JSON).readJson<TrainingRecord>();
    const trainTask = new TrainModel({ ...modelA, source, store: s3Store });
    const remote = await new S3Target(`${s3Store}/mnist/models/${trainTask.id}/${TRAINING_JSON}`, fs).readJson<TrainingRecord>();
    expect(remote.modelSha256).toBe(local.modelSha256);
    expect(remote.data.source.location).toBe(source);

    const versions = JSON.parse(await new S3Target(`${s3Store}/registry/mnist-digits/versions/1.json`, fs).readText());
    expect(versions).toMatchObject({ version: 1, lineage: { training: { modelSha256: local.modelSha256 } }, uri: `${s3Store}/registry/mnist-digits/models/1` });
    expect(await fs.exists(`${s3Store}/registry/mnist-digits/models/1/weights.bin`)).toBe(true);
    expect(JSON.parse(await new S3Target(`${s3Store}/registry/mnist-digits/aliases.json`, fs).readText()).aliases).toEqual({ champion: 1 });

    const second = await runFlowProcess('flows/register.ts', args, env);
    expect(second.code).toBe(0);
    expect(second.logs.some((l) => l.msg === 'everything is complete; nothing to run')).toBe(true);
  });
});
