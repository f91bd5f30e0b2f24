/**
 * The model server under load, against in-process prediction as the reference.
 *
 *   npm run bench:serve [-- --seconds 8] [--predict-in auto|worker|inline] [--onnx-threads n] [--format tfjs|onnx] [--load-generator autocannon|wrk|auto]
 *
 * With `--format onnx` the versions are registered with their ONNX export
 * (as the register flow does), so the server predicts with ONNX Runtime, and
 * the in-process reference is ONNX Runtime on the same file.
 *
 * 1. Registers the default MNIST network (DEFAULT_MODEL's architecture, seeded
 *    weights: speed does not depend on what the weights learned) four times
 *    under different seeds in a temporary store.
 * 2. Starts `dagwright serve` (default settings: adaptive batching, the
 *    prediction log on) as a child process, as bin/dagwright.js starts it,
 *    and loads it on loopback with autocannon in this process, or wrk in its
 *    own process (`--load-generator autocannon|wrk|auto`: auto is wrk when
 *    installed; bench/load-generator.ts); every load of a run uses the same
 *    one, named in the output with its own CPU a request. Single FP32
 *    [1,784] images at concurrency 1, 16 and 64, then UINT8 [32,784] batches
 *    at concurrency 16 (fewer leave the server idle while each client turns
 *    its answer round), twice: as JSON, then in the binary tensor data
 *    extension (raw bytes in, the probabilities and labels back as raw
 *    bytes), as a throughput-minded client sends them. One binary answer is
 *    checked against the JSON one first.
 * 3. The reference: the same model's `predict` in this process, on the same
 *    backend, at batch sizes 1 and 32 (batch 32 before, between and after the
 *    two served batch-32 loads; each load is compared with the mean of the
 *    readings either side of it).
 * 4. Three swaps under load: concurrency 16 while the alias moves 1 -> 2 ->
 *    3 -> 4; every non-2xx answer and socket error counts as a swap error.
 * 5. The server's peak RSS (VmHWM) from /proc.
 * 6. The ceiling: bare servers with nothing behind them (Node.js http, and
 *    fastify, which the server is built on), each reading the body and
 *    answering a fixed small JSON, under the same generator at 64
 *    connections with the single-image body: what any Node.js server could
 *    answer on this machine at the same time, with each one's CPU a request.
 *    With --format onnx also a minimal ONNX server
 *    (bench/fixtures/minimal-onnx-server.js: node:http, numbers scanned by
 *    hand, queued images batched into one ONNX Runtime call, no log, no
 *    metrics, no checks) on the same model, at 64 connections and with the
 *    binary batch-32 body: what a server doing only the model's work reaches
 *    here, against the same in-process reference.
 * 7. The CPU budget of the targets: server and generator share the
 *    cores, so 12,000 req/s allows cores / 12,000 s of CPU a request for
 *    both, and 0.8x in-process predict at batch 32 cores / (0.8 x its rate)
 *    an image; printed beside what this run used.
 *
 * The machine is shared (server, load generator and anyone else on 2 cores):
 * figures are noisy; `ratio` compares served and in-process throughput at
 * batch 32 measured in the same run. Last line: one JSON object.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { buildModel, DEFAULT_MODEL } from '../tasks/mnist/model';
import { ModelRegistry } from '../tasks/registry/registry';
import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';
import { serializeModel } from '../tasks/training/model-io';
import { exportToOnnx } from '../tasks/onnx/tfjs-to-onnx';
import { MODEL_ONNX, SIGNATURE_JSON } from '../tasks/onnx/signature';
import { onnxPredictRate } from './predict';
import { defaultOnnxThreads } from '../tasks/serving/runtime/model-runtimes';
import { type Body, type Load, LOAD_GENERATORS, loadGenerator, type LoadGeneratorName } from './load-generator';

const root = path.resolve(__dirname, '..');
function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const seconds = Number(option('seconds', '8'));
/** Where the server predicts: auto (its default: ONNX in a worker thread, TF.js inline), worker or inline. */
const predictIn = option('predict-in', 'auto');
/** ONNX Runtime's threads in the server (default: the server's own default). */
const onnxThreads = option('onnx-threads', '');
/** The registered format: tfjs (TensorFlow.js serves) or onnx (the export beside it: ONNX Runtime serves). */
const format = option('format', 'tfjs');
if (format !== 'tfjs' && format !== 'onnx') throw new Error(`--format must be tfjs or onnx, got ${format}`);
const generatorName = option('load-generator', 'autocannon') as LoadGeneratorName;
if (!LOAD_GENERATORS.includes(generatorName)) throw new Error(`--load-generator must be one of ${LOAD_GENERATORS.join(', ')}, got ${generatorName}`);
const generator = loadGenerator(generatorName);
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

function images(count: number, seed: number): Uint8Array {
  const pixels = new Uint8Array(count * 784);
  let state = seed;
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    pixels[i] = (state >>> 16) & 0xff;
  }
  return pixels;
}

async function registerVersions(tf: TensorFlow, store: string, seeds: number[]): Promise<void> {
  const registry = new ModelRegistry(store, 'mnist-digits');
  for (const seed of seeds) {
    const model = buildModel(tf, { ...DEFAULT_MODEL, seed });
    const files = await serializeModel(tf, model);
    const exported = format === 'onnx' ? exportToOnnx(model, { producerVersion: 'bench' }) : undefined;
    model.dispose();
    const onnxFiles: Record<string, Uint8Array> = exported ? { [MODEL_ONNX]: exported.onnx, [SIGNATURE_JSON]: Buffer.from(JSON.stringify(exported.signature)) } : {};
    const { version } = await registry.register({ files: { 'model.json': files.modelJson, 'weights.bin': files.weights, ...onnxFiles }, metrics: {}, lineage: { bench: 'serve' } });
    if (version.version === 1) await registry.setAlias('champion', 1, 'bench');
  }
}

async function startServer(store: string): Promise<{ child: ChildProcess; url: string }> {
  // As users start it (bin/dagwright.js: the project's TypeScript hook, not ts-node, which loads node's REPL and domain module).
  const args = [path.join(root, 'bin/dagwright.js'), 'serve', '--store', store, '--port', '0', '--poll-ms', '200', '--predict-in', predictIn, ...(onnxThreads ? ['--onnx-threads', onnxThreads] : [])];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const url = /"url":"(http:[^"]+)"[^\n]*"msg":"serving/.exec(stderr)?.[1];
      if (url) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before serving: ${stderr}`)));
  });
}

const jsonBody = (value: object): Body => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });

/** UINT8 images in the binary tensor data extension, asking for every output in binary. */
function binaryBody(pixels: Uint8Array): Body {
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'UINT8', shape: [pixels.length / 784, 784], parameters: { binary_data_size: pixels.length } }], parameters: { binary_data_output: true } }));
  return { body: Buffer.concat([header, pixels]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } };
}

/** Sends both bodies once; throws unless the binary answer holds the JSON answer's probabilities and labels. */
async function checkBinaryAnswer(url: string, json: Body, binary: Body): Promise<void> {
  const post = (b: Body) => fetch(`${url}/v2/models/mnist-digits/infer`, { method: 'POST', headers: b.headers, body: b.body });
  const expected = (await (await post(json)).json()) as { outputs: { data: number[] }[] };
  const reply = await post(binary);
  const bytes = Buffer.from(await reply.arrayBuffer());
  const headerLength = Number(reply.headers.get('inference-header-content-length'));
  const header = JSON.parse(bytes.subarray(0, headerLength).toString()) as { outputs: { parameters: { binary_data_size: number } }[] };
  const [probabilitiesSize, labelsSize] = header.outputs.map((o) => o.parameters.binary_data_size);
  const probabilities = new Float32Array(bytes.buffer.slice(bytes.byteOffset + headerLength, bytes.byteOffset + headerLength + probabilitiesSize));
  const labels = new BigInt64Array(bytes.buffer.slice(bytes.byteOffset + headerLength + probabilitiesSize, bytes.byteOffset + headerLength + probabilitiesSize + labelsSize));
  const same = Array.from(probabilities).every((p, i) => p === Math.fround(expected.outputs[0].data[i])) && Array.from(labels).every((l, i) => Number(l) === expected.outputs[1].data[i]);
  if (reply.status !== 200 || probabilities.length !== expected.outputs[0].data.length || !same) throw new Error(`the binary answer (${reply.status}) does not hold the JSON answer's probabilities and labels`);
}

function run(url: string, connections: number, body: Body, duration: number): Promise<Load> {
  return generator.run(`${url}/v2/models/mnist-digits/infer`, connections, body, duration);
}

/** Images per second of in-process predict at `batch`, and CPU microseconds per image. */
async function predictReference(tf: TensorFlow, batch: number, ms: number): Promise<{ rate: number; cpuUsPerImage: number }> {
  const model: tfjs.LayersModel = buildModel(tf, { ...DEFAULT_MODEL, seed: 1 });
  if (format === 'onnx') {
    const { onnx, signature } = exportToOnnx(model, { producerVersion: 'bench' });
    model.dispose();
    const cpu = process.cpuUsage();
    const rate = await onnxPredictRate(onnx, signature, batch, ms);
    const used = process.cpuUsage(cpu);
    // ONNX Runtime's threads count in this process's CPU time; the warm-up is included (a few calls).
    return { rate, cpuUsPerImage: (used.user + used.system) / ((rate * ms) / 1000) };
  }
  // As a program predicting on data it holds: a tensor from a Float32Array per call, the probabilities read back.
  const features = Float32Array.from(images(batch, 7), (p) => p / 255);
  const predict = () => tf.tidy(() => model.predict(tf.tensor(features, [batch, 28, 28, 1])) as tfjs.Tensor);
  const once = () => {
    const y = predict();
    y.dataSync();
    y.dispose();
  };
  for (let i = 0; i < 5; i++) once();
  let calls = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < ms) {
    once();
    calls++;
  }
  const rate = (calls * batch) / ((performance.now() - start) / 1000);
  const used = process.cpuUsage(cpu);
  model.dispose();
  return { rate, cpuUsPerImage: (used.user + used.system) / (calls * batch) };
}

/** The targets on this machine: requests a second at 64 connections, and served images a second at batch 32 against in-process predict. */
const TARGET_RPS_C64 = 12_000;
const TARGET_RATIO_B32 = 0.8;
const cores = os.availableParallelism();

/**
 * What the targets allow in CPU, server and load generator together, as
 * both share this machine's cores: at TARGET_RPS_C64, cores / rate a
 * request; at TARGET_RATIO_B32 of in-process predict, cores / (ratio * its
 * rate) an image, against what the binary batch load used.
 */
function cpuBudget(loads: Record<string, Load>, serverCpuUs: Record<string, number>, ref32Rate: number) {
  return {
    perRequest: (cores * 1e6) / TARGET_RPS_C64,
    perImage: (cores * 1e6) / (TARGET_RATIO_B32 * ref32Rate),
    usedPerImage: (serverCpuUs.b32 + loads.b32.generatorCpuUs) / 32,
  };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 per second on Linux)
}

function peakRssMb(pid: number): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return hwm ? round(Number(hwm) / 1024, 0) : NaN;
}

type Reference = { rate: number; cpuUsPerImage: number };

/** The loads, the server's CPU per request in each, and the batch-32 reference before, between and after the two batch-32 loads. */
async function measureLoads(tf: TensorFlow, url: string, pid: number, bodies: Record<'single' | 'json32' | 'binary32', Body>) {
  const loads: Record<string, Load> = {};
  // As the machine's load drifts, each batch-32 load is compared with the reference read right before and after it.
  const reference32: Reference[] = [];
  // Server CPU per request: robust to how busy the shared machine is, unlike throughput.
  const serverCpuUs: Record<string, number> = {};
  const plan = [['c1', 1, bodies.single], ['c16', 16, bodies.single], ['c64', 64, bodies.single], ['b32j', 16, bodies.json32], ['b32', 16, bodies.binary32]] as const;
  for (const [name, connections, body] of plan) {
    if (name === 'b32j') reference32.push(await predictReference(tf, 32, 2000));
    const cpuBefore = cpuSecondsOf(pid);
    loads[name] = await run(url, connections, body, seconds);
    serverCpuUs[name] = ((cpuSecondsOf(pid) - cpuBefore) * 1e6) / loads[name].requests;
    if (name.startsWith('b32')) reference32.push(await predictReference(tf, 32, 2000));
    const l = loads[name];
    const form = name === 'b32' ? ' (binary)' : name === 'b32j' ? ' (JSON)' : '';
    console.log(`${name.padEnd(4)} ${connections} connections${form}: ${round(l.rps, 0)} req/s, p50 ${l.p50} ms, p99 ${l.p99} ms, ${l.errors} errors of ${l.requests}, server CPU ${round(serverCpuUs[name], 0)} us/request, ${generator.name} CPU ${round(l.generatorCpuUs, 0)} us/request`);
  }
  const mean = (a: Reference, b: Reference): Reference => ({ rate: (a.rate + b.rate) / 2, cpuUsPerImage: (a.cpuUsPerImage + b.cpuUsPerImage) / 2 });
  const [before, between, after] = reference32;
  console.log(`in-process predict at batch 32: ${reference32.map((r) => round(r.rate, 0)).join(' / ')} images/s (before / between / after)`);
  return { loads, serverCpuUs, ref32: mean(between, after), ref32Json: mean(before, between) };
}

/** Requests at concurrency 16 while the alias moves 1 -> 2 -> 3 -> 4; throws unless the server made exactly those swaps. */
async function swapsUnderLoad(url: string, store: string, single: Body): Promise<Load> {
  const swapLoad = run(url, 16, single, 7);
  const registry = new ModelRegistry(store, 'mnist-digits');
  for (const version of [2, 3, 4]) {
    await new Promise((r) => setTimeout(r, 1500));
    await registry.setAlias('champion', version, 'bench swap');
  }
  const swap = await swapLoad;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const reloads = Number(/^dagwright_serve_reloads_total (\S+)$/m.exec(metrics)?.[1] ?? 0);
  const served = /dagwright_serve_model_info\{[^}]*version="(\d+)"/.exec(metrics)?.[1];
  console.log(`swaps under load: ${reloads} reloads (now serving version ${served}), ${swap.requests} requests, ${swap.errors} errors, p99 ${swap.p99} ms`);
  if (reloads !== 3 || served !== '4') throw new Error(`expected 3 swaps ending on version 4, saw ${reloads} ending on ${served}`);
  return swap;
}

/** A Node.js server that reads each body and answers a fixed small JSON: plain `http`, or fastify with a body parser. */
const BARE_SERVER = `
const kind = process.argv[1];
const answer = '{"model_name":"m","outputs":[]}';
const listening = (port) => process.stdout.write(port + '\\n');
if (kind === 'http') {
  const server = require('node:http').createServer((request, response) => {
    request.on('data', () => undefined);
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  });
  server.listen(0, '127.0.0.1', () => listening(server.address().port));
} else {
  const app = require('fastify')({ logger: false });
  app.removeAllContentTypeParsers(); // as the server does: bodies arrive as bytes, not parsed as JSON
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/v2/models/:name/infer', async (_request, reply) => reply.type('application/json').send(answer));
  app.listen({ host: '127.0.0.1', port: 0 }).then(() => listening(app.server.address().port));
}
`;

/** Starts a server process that prints its port on stdout; resolves with its URL. */
async function childServer(args: string[], what: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(String(d).trim()));
    child.once('exit', (code) => reject(new Error(`the ${what} exited (${code})`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** A load with the server's CPU a request, after a 3 s warm-up (measured: a 1 s warm-up left fastify at half its speed, its JIT still compiling). */
async function loadWithServerCpu(url: string, pid: number, connections: number, body: Body): Promise<Load & { serverCpuUs: number }> {
  await run(url, connections, body, 3);
  const cpuBefore = cpuSecondsOf(pid);
  const load = await run(url, connections, body, seconds);
  return { ...load, serverCpuUs: ((cpuSecondsOf(pid) - cpuBefore) * 1e6) / load.requests };
}

/** The single-image load at 64 connections against a bare server (`http` or `fastify`), with the server's CPU a request. */
async function bareServerLoad(kind: 'http' | 'fastify', single: Body): Promise<Load & { serverCpuUs: number }> {
  const { child, url } = await childServer(['-e', BARE_SERVER, kind], `bare ${kind} server`);
  try {
    return await loadWithServerCpu(url, child.pid!, 64, single);
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * The minimal ONNX server (bench/fixtures/minimal-onnx-server.js: the model's work and nothing else)
 * on the same model, under the single-image load at 64 connections and the binary batch-32 load at 16.
 */
async function minimalOnnxLoads(modelFile: string, single: Body, binary32: Body): Promise<{ c64: Load & { serverCpuUs: number }; b32: Load }> {
  const { child, url } = await childServer([path.join(root, 'bench/fixtures/minimal-onnx-server.js'), modelFile, '2', '64'], 'minimal ONNX server');
  try {
    const c64 = await loadWithServerCpu(url, child.pid!, 64, single);
    const b32 = await run(url, 16, binary32, seconds);
    return { c64, b32 };
  } finally {
    child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const { tf, backend } = await loadTensorFlow();
  const store = await mkdtemp(path.join(os.tmpdir(), 'bench-serve-'));
  let server: ChildProcess | undefined;
  try {
    await registerVersions(tf, store, [1, 2, 3, 4]);
    const started = await startServer(store);
    server = started.child;
    const { url } = started;
    console.log(`format ${format}, backend ${backend}, predicting in ${predictIn}; server pid ${server.pid} at ${url}; load generator ${generator.name} (every load below); ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}`);

    const single = jsonBody({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 784], data: Array.from(images(1, 3), (p) => round(p / 255, 3)) }] });
    const pixels32 = images(32, 5);
    const json32 = jsonBody({ inputs: [{ name: 'image', datatype: 'UINT8', shape: [32, 784], data: Array.from(pixels32) }] });
    const binary32 = binaryBody(pixels32);
    await checkBinaryAnswer(url, json32, binary32);
    await run(url, 64, single, 3); // warm up both processes (JIT)
    const { loads, serverCpuUs, ref32, ref32Json } = await measureLoads(tf, url, server.pid!, { single, json32, binary32 });
    const imagesPerSB32 = loads.b32.rps * 32;
    const imagesPerSB32Json = loads.b32j.rps * 32;
    const ref1 = (await predictReference(tf, 1, 2000)).rate;
    console.log(`in-process predict: batch 1 ${round(ref1, 0)} images/s, batch 32 ${round(ref32.rate, 0)} images/s; served batch 32 ${round(imagesPerSB32, 0)} images/s binary, ${round(imagesPerSB32Json, 0)} JSON`);

    const swap = await swapsUnderLoad(url, store, single);
    const rss = peakRssMb(server.pid!);
    console.log(`server peak RSS ${rss} MB`);
    server.kill('SIGTERM');
    const bareHttp = await bareServerLoad('http', single);
    const bareFastify = await bareServerLoad('fastify', single);
    console.log(`ceiling, bare servers at 64 connections (${generator.name}, load ${os.loadavg()[0].toFixed(2)}): Node.js http ${round(bareHttp.rps, 0)} req/s (p99 ${bareHttp.p99} ms, server CPU ${round(bareHttp.serverCpuUs, 0)} us/request), fastify ${round(bareFastify.rps, 0)} req/s (p99 ${bareFastify.p99} ms, server CPU ${round(bareFastify.serverCpuUs, 0)} us/request)`);
    const minimal = format === 'onnx' ? await minimalOnnxLoads(new ModelRegistry(store, 'mnist-digits').filesOf(1).file(MODEL_ONNX).uri, single, binary32) : undefined;
    if (minimal) {
      console.log(`ceiling, minimal ONNX server (the model's work only, bench/fixtures/minimal-onnx-server.js): 64 connections ${round(minimal.c64.rps, 0)} req/s (p99 ${minimal.c64.p99} ms, server CPU ${round(minimal.c64.serverCpuUs, 0)} us/request); batch 32 binary ${round(minimal.b32.rps * 32, 0)} images/s, ${round((minimal.b32.rps * 32) / ref32.rate, 2)}x in-process`);
    }
    const budget = cpuBudget(loads, serverCpuUs, ref32.rate);
    console.log(`CPU budget on ${cores} cores (server and ${generator.name} together): ${TARGET_RPS_C64} req/s allows ${round(budget.perRequest, 0)} us a request; at 64 connections the server used ${round(serverCpuUs.c64, 0)} + ${generator.name} ${round(loads.c64.generatorCpuUs, 0)} us (bare http ${round(bareHttp.serverCpuUs + bareHttp.generatorCpuUs, 0)} us)`);
    console.log(`  ${TARGET_RATIO_B32}x in-process at batch 32 allows ${round(budget.perImage, 1)} us an image; served binary batches used ${round(budget.usedPerImage, 1)} us (in-process predict alone ${round(ref32.cpuUsPerImage, 1)} us)`);

    console.log(
      JSON.stringify({
        bench: 'serve',
        load_generator: generator.name,
        format,
        backend: format === 'onnx' ? 'onnxruntime' : backend,
        predict_in: predictIn,
        onnx_threads: onnxThreads ? Number(onnxThreads) : defaultOnnxThreads(predictIn !== 'inline'),
        rps_c1: round(loads.c1.rps, 0),
        rps_c16: round(loads.c16.rps, 0),
        rps_c64: round(loads.c64.rps, 0),
        p50_ms_c64: loads.c64.p50,
        p99_ms_c64: loads.c64.p99,
        images_per_s_b32: round(imagesPerSB32, 0),
        images_per_s_b32_json: round(imagesPerSB32Json, 0),
        predict_ref_images_per_s: round(ref32.rate, 0),
        predict_ref_images_per_s_json: round(ref32Json.rate, 0),
        predict_ref_images_per_s_b1: round(ref1, 0),
        ratio: round(imagesPerSB32 / ref32.rate, 2),
        ratio_json: round(imagesPerSB32Json / ref32Json.rate, 2),
        p99_ms_b32: loads.b32.p99,
        p99_ms_b32_json: loads.b32j.p99,
        server_cpu_us_per_request_c64: round(serverCpuUs.c64, 0),
        generator_cpu_us_per_request_c64: round(loads.c64.generatorCpuUs, 0),
        server_cpu_us_per_image_b32: round(serverCpuUs.b32 / 32, 1),
        server_cpu_us_per_image_b32_json: round(serverCpuUs.b32j / 32, 1),
        predict_ref_cpu_us_per_image_b32: round(ref32.cpuUsPerImage, 1),
        cpu_ratio_b32: round(ref32.cpuUsPerImage / (serverCpuUs.b32 / 32), 2),
        cpu_ratio_b32_json: round(ref32Json.cpuUsPerImage / (serverCpuUs.b32j / 32), 2),
        swap_errors: swap.errors,
        swap_requests: swap.requests,
        load_errors: Object.values(loads).reduce((n, l) => n + l.errors, 0),
        rps_c64_bare_http: round(bareHttp.rps, 0),
        rps_c64_bare_fastify: round(bareFastify.rps, 0),
        generator_cpu_us_per_request_bare_http: round(bareHttp.generatorCpuUs, 0),
        server_cpu_us_per_request_bare_http: round(bareHttp.serverCpuUs, 0),
        server_cpu_us_per_request_bare_fastify: round(bareFastify.serverCpuUs, 0),
        cpu_budget_us_per_request_c64: round(budget.perRequest, 0),
        cpu_budget_us_per_image_b32: round(budget.perImage, 1),
        cpu_us_per_image_b32: round(budget.usedPerImage, 1),
        ...(minimal
          ? {
              rps_c64_minimal_onnx: round(minimal.c64.rps, 0),
              p99_ms_c64_minimal_onnx: minimal.c64.p99,
              server_cpu_us_per_request_minimal_onnx: round(minimal.c64.serverCpuUs, 0),
              images_per_s_b32_minimal_onnx: round(minimal.b32.rps * 32, 0),
              ratio_minimal_onnx: round((minimal.b32.rps * 32) / ref32.rate, 2),
            }
          : {}),
        bare_errors: bareHttp.errors + bareFastify.errors + (minimal ? minimal.c64.errors + minimal.b32.errors : 0),
        rss_mb: rss,
        loadavg: round(os.loadavg()[0], 2),
      }),
    );
  } finally {
    server?.kill('SIGTERM');
    generator.close();
    await new Promise((r) => setTimeout(r, 500));
    await rm(store, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
