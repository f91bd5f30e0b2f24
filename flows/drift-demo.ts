/**
 * The whole drift loop, end to end, on this machine:
 *
 *   1. train and register an MNIST model (champion v1)
 *   2. serve it on 127.0.0.1 (a free port), logging predictions
 *   3. MNIST traffic -> monitor: no drift
 *   4. optdigits traffic (held-out digits) -> accuracy before
 *   5. labelled optdigits arrive (their own labels stand in for a person's) -> monitor: drift,
 *      an event, retraining on MNIST + the labelled batch, registration; champion moves when the
 *      new model is better on MNIST test + optdigits held-out
 *   6. the server swaps to the new champion -> optdigits traffic again: accuracy after
 *
 * `--executor` says where the task steps (preprocess, train, evaluate, register, the drift
 * reference, the check, the monitor, the retraining) run, as for every flow: `inprocess`,
 * `docker` (each step in its own container, this script started again with `--run-task`), or
 * `auto` (Docker when an engine answers). When the steps run on Docker the model server does
 * too: deployed as a container (DeployModelServer, target docker; image dagwright/server from
 * `containers/build --baked`), unless `--server in-process` says otherwise.
 *
 *   npx ts-node flows/drift-demo.ts --store /tmp/drift-demo                        # full settings (minutes)
 *   npx ts-node flows/drift-demo.ts --store /tmp/drift-demo --quick                # small settings
 *   npx ts-node flows/drift-demo.ts --store /tmp/drift-demo --quick --executor docker
 */
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { createLogger, formatSummary, registerTaskClasses } from '../src/public/runtime';
import { type Executor } from '../src/public/executors';
import { type FlowDefinition, parseStore, run, type RunSummary, runFlow, type AnyTask, UsageError } from '../src';
import { runTaskFlag } from '../src/step/invocation';
import { createExecutor } from '../src/flow/executors';
import { DriftCheck } from '../tasks/drift/check-task';
import { RegisterRetrained } from '../tasks/mnist/retrain-task';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import { MonitorDrift, type MonitorParams } from '../tasks/mnist/monitor-task';
import { readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { type ImageBatch, sampleImages } from '../tasks/drift/sources/image-batch';
import { loadSource } from '../tasks/drift/sources/source-spec';
import { sendTraffic, trafficAccuracy } from '../tasks/drift/traffic';
import { RegisterModel } from '../tasks/mnist/register-task';
import { ModelRegistry } from '../tasks/registry/registry';
import { DeployModelServer, readPredictionLog, removeDockerServers, SERVER_IMAGE, serveModel } from '../tasks/serving';

/** Where the demo's task steps run (the flow runner's `--executor` names, bar swarm, which needs an s3:// store). */
export const demoExecutors = ['auto', 'docker', 'inprocess'] as const;
export type DemoExecutor = (typeof demoExecutors)[number];
/** Where the model server runs. */
export const demoServers = ['docker', 'in-process'] as const;
export type DemoServer = (typeof demoServers)[number];

export interface DriftDemoOptions {
  readonly store: string;
  /** Training images per MNIST increment and the increment used (small settings for tests). */
  readonly incrementSize?: number;
  readonly increment?: number;
  readonly epochs?: number;
  readonly validationFraction?: number;
  /** Images per traffic window. */
  readonly window?: number;
  /** Where the task steps run; default `auto`. */
  readonly executor?: DemoExecutor;
  /** Where the model server runs; default `docker` when the steps run on Docker, else `in-process`. */
  readonly server?: DemoServer;
  /** The server's port on 127.0.0.1; default a free one. */
  readonly port?: number;
  readonly logger?: Logger;
}

/** One task a run of the demo ran, and the executor it ran on (as the run summary records it). */
export interface DemoStep {
  readonly id: string;
  readonly family: string;
  readonly executor: string | undefined;
}

export interface DriftDemoResult {
  readonly firstVersion: number;
  readonly finalVersion: number;
  readonly servedAfter: number | undefined;
  readonly mnistDrift: boolean;
  readonly optdigitsDrift: boolean;
  readonly action: string;
  readonly optdigitsAccuracyBefore: number;
  readonly optdigitsAccuracyAfter: number;
  readonly mnistTestAccuracyAfter: number | undefined;
  readonly reports: string[];
  /**
   * The server's verdict on the drifted window: its dagwright_drift_detected line, or, once the
   * retrained version already serves, `dagwright_drift_report_stale 1` (a verdict on a replaced
   * version leaves /metrics).
   */
  readonly driftMetric: string | undefined;
  /** The executor the steps ran on (`inprocess` or `docker`) and where the server ran. */
  readonly executor: string;
  readonly server: DemoServer;
  readonly serverUrl: string;
  /** Every task the demo's runs ran, in order. */
  readonly steps: DemoStep[];
}

/** The model server the traffic goes to, in this process or in a container. */
interface RunningServer {
  readonly url: string;
  servedVersion(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** What the loop's phases share. */
interface DemoContext {
  readonly store: string;
  readonly model: string;
  readonly window: number;
  readonly training: { increment: number; incrementSize: number; epochs: number };
  readonly logger: Logger;
  readonly runSteps: (task: AnyTask, what: string) => Promise<void>;
}

const MODEL = 'mnist-digits';

/**
 * What a container step of the demo runs: this script again with
 * `--run-task <id>`. The step's task comes from DAGWRIGHT_TASK_SPEC (its class
 * is exported by a module this script imports), so the flow has no roots.
 */
export const demoStepsFlow = {
  name: 'drift-demo',
  description: 'one step of the drift demo (started by its Docker executor with --run-task)',
  params: {},
  roots: () => [],
} satisfies FlowDefinition<Record<string, never>>;

function check(summary: RunSummary, what: string): void {
  if (!summary.ok) throw new Error(`${what} failed:\n${formatSummary(summary)}`);
}

async function waitFor<T>(what: string | (() => string), probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port on 127.0.0.1 that nothing listens on now. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The executor table's set-up (engine check, orphan removal, runner image), with this script as the steps' entry. */
function stepsExecutor(name: DemoExecutor, store: string, logger: Logger): Promise<Executor> {
  // The monitor step asks for these by name (dynamic requirements); under a module loader other than
  // require (vitest's) the driver cannot find them among loaded modules' exports.
  registerTaskClasses(DriftCheck, RegisterRetrained);
  const invocation = { entry: __filename, args: ['--store', store, '--log-level', logger.level] };
  return createExecutor(name, { logger, invocation, store: parseStore(store) });
}

/** Docker when asked; by default when the steps run on Docker and the server image is there (auto falls back to in process). */
async function chooseServer(options: DriftDemoOptions, executor: Executor, logger: Logger): Promise<DemoServer> {
  if (options.server !== undefined) return options.server;
  if (executor.name !== 'docker') return 'in-process';
  if (options.executor === 'docker') return 'docker';
  const present = await new Docker().getImage(SERVER_IMAGE).inspect().then(() => true, () => false);
  if (!present) logger.warn(`demo: no ${SERVER_IMAGE} image (containers/build --baked makes it): serving in process`);
  return present ? 'docker' : 'in-process';
}

async function startServer(target: DemoServer, ctx: DemoContext, port: number | undefined): Promise<RunningServer> {
  const { store, model, logger } = ctx;
  if (target === 'in-process') {
    const server = await serveModel({ store, model, port: port ?? 0, pollMs: 200, predictionLog: { chunkRecords: 50, chunkMaxAgeMs: 100 }, logger });
    return { url: server.url, servedVersion: async () => server.version, stop: () => server.stop() };
  }
  const chosen = port ?? (await freeLoopbackPort());
  // Like the in-process server: alias checks and log chunks often, so each window is in the log at once.
  const deploy = new DeployModelServer({ store, model, target: 'docker', port: chosen, pollMs: 200, logChunkSeconds: 0.1 });
  const stop = async () => void (await removeDockerServers(new Docker(), chosen));
  try {
    await ctx.runSteps(deploy, 'deploying the model server container');
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: deploy.url, servedVersion: () => servedVersionAt(deploy.url, model), stop };
}

/** The version the server at `url` serves (its V2 model metadata), or undefined when it does not answer. */
async function servedVersionAt(url: string, model: string): Promise<number | undefined> {
  try {
    const response = await fetch(`${url}/v2/models/${encodeURIComponent(model)}`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    const versions = ((await response.json()) as { versions?: string[] }).versions;
    return versions?.length ? Number(versions[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the demo (see the module comment); the server is stopped and the executor closed before it resolves. */
export async function runDriftDemo(options: DriftDemoOptions): Promise<DriftDemoResult> {
  const { incrementSize = 10_000, increment = 6, epochs = 5, validationFraction = 0.05, window = 200 } = options;
  const executorName = options.executor ?? 'auto';
  if (!(demoExecutors as readonly string[]).includes(executorName)) throw new UsageError(`executor got "${executorName}"; expected one of ${demoExecutors.join(', ')}.`);
  // One absolute path: a container step sees the store at the same path and makes the same task ids.
  const store = parseStore(options.store).uri;
  const logger = options.logger ?? createLogger();
  const executor = await stepsExecutor(executorName, store, logger);
  const steps: DemoStep[] = [];
  const runSteps = async (task: AnyTask, what: string) => {
    const summary = await run(task, { logger, workers: 1, executor });
    steps.push(...summary.tasks.filter((t) => t.status === 'ran').map((t) => ({ id: t.id, family: t.family, executor: t.executor })));
    check(summary, what);
  };
  const ctx: DemoContext = { store, model: MODEL, window, training: { increment, incrementSize, epochs }, logger, runSteps };
  try {
    await runSteps(new RegisterModel({ store, increment, incrementSize, epochs, validationFraction, modelName: MODEL }), 'training and registering');
    const server = await chooseServer(options, executor, logger);
    logger.info({ executor: executor.name, server }, `demo: steps run on ${executor.name}, the server ${server === 'docker' ? 'in a container' : 'in process'}`);
    const running = await startServer(server, ctx, options.port);
    try {
      const loop = await runLoop(ctx, running);
      return { ...loop, executor: executor.name, server, serverUrl: running.url, steps };
    } finally {
      await running.stop();
    }
  } finally {
    await executor.close();
  }
}

type LoopResult = Omit<DriftDemoResult, 'executor' | 'server' | 'serverUrl' | 'steps'>;

/** Steps 2-6 of the module comment, against a running server. */
async function runLoop(ctx: DemoContext, server: RunningServer): Promise<LoopResult> {
  const { store, model, window, logger } = ctx;
  const registry = new ModelRegistry(store, model);
  const firstVersion = (await registry.resolve('champion')).version;
  logger.info({ version: firstVersion }, `demo: champion is version ${firstVersion}`);
  const traffic = trafficSender(ctx, server, (await readPredictionLog(store, model)).length);
  const monitor = async (): Promise<{ drift: boolean; action: string; report: string }> => {
    const { increment, incrementSize, epochs } = ctx.training;
    const params: MonitorParams = { store, modelName: model, last: window, until: new Date().toISOString(), trainIncrement: increment, trainIncrementSize: incrementSize, trainEpochs: epochs, cooldownMinutes: 60 };
    const task = new MonitorDrift(params);
    await ctx.runSteps(task, 'the monitor');
    return task.output().readJson();
  };

  await traffic('mnist-test', sampleImages(await loadSource('mnist-test'), window, 7));
  const quiet = await monitor();
  logger.info({ drift: quiet.drift }, `demo: MNIST traffic: ${quiet.drift ? 'drift (unexpected)' : 'no drift'}`);

  const { labelled, heldout } = await readOptdigitsSplit();
  const heldWindow = sampleImages(heldout, window, 7);
  const before = trafficAccuracy(await traffic('optdigits:heldout', heldWindow), heldWindow.labels!);
  await writeLabelledBatch(store, 'optdigits-labelled', { pixels: labelled.pixels, labels: labelled.labels!, source: 'optdigits:labelled (own labels)' });
  const shifted = await monitor();
  // The server's /metrics reads the summary the monitor wrote.
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const lines = metrics.split('\n');
  const driftMetric = lines.find((l) => l.startsWith('dagwright_drift_detected{')) ?? lines.find((l) => l === 'dagwright_drift_report_stale 1');
  logger.info({ drift: shifted.drift, action: shifted.action }, `demo: optdigits traffic: ${shifted.drift ? 'drift' : 'no drift'}, ${shifted.action}`);

  const finalVersion = (await registry.resolve('champion')).version;
  if (finalVersion !== firstVersion) await waitFor(`the server to swap to version ${finalVersion}`, async () => ((await server.servedVersion()) === finalVersion ? true : undefined), 60_000);
  const after = trafficAccuracy(await traffic('optdigits:heldout', heldWindow), heldWindow.labels!);
  const mnistAfter = ((await registry.version(finalVersion)).metrics as { testAccuracy?: number }).testAccuracy;
  logger.info({ before, after, firstVersion, finalVersion }, `demo: optdigits accuracy ${(before * 100).toFixed(1)}% -> ${(after * 100).toFixed(1)}%`);
  return {
    firstVersion,
    finalVersion,
    servedAfter: await server.servedVersion(),
    mnistDrift: quiet.drift,
    optdigitsDrift: shifted.drift,
    action: shifted.action,
    optdigitsAccuracyBefore: before,
    optdigitsAccuracyAfter: after,
    mnistTestAccuracyAfter: mnistAfter,
    reports: [quiet.report, shifted.report],
    driftMetric,
  };
}

/** Sends a window of images and waits until the prediction log holds them (the server publishes its chunks a moment later). */
function trafficSender(ctx: DemoContext, server: RunningServer, alreadyLogged: number) {
  let logged = alreadyLogged;
  return async (source: string, images: ImageBatch) => {
    const result = await sendTraffic({ url: server.url, model: ctx.model, images, concurrency: 4 });
    if (result.failed > 0) throw new Error(`traffic from ${source}: ${result.failed} images failed: ${result.errors.join('; ')}`);
    logged += images.count;
    let held = 0;
    await waitFor(() => `the prediction log to hold ${logged} records (it holds ${held})`, async () => ((held = (await readPredictionLog(ctx.store, ctx.model)).length) >= logged ? true : undefined), 30_000);
    return result;
  };
}

function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw new UsageError(`--${flag} got "${value}"; expected one of ${allowed.join(', ')}.`);
}

const demoUsage = `usage: npx ts-node flows/drift-demo.ts [options]

The drift loop end to end: train and register, serve, MNIST then optdigits traffic, monitor, retrain, swap.

options:
  --store <folder|s3://...>   where everything is kept (default ./data/drift-demo)
  --quick                     small settings (3,000 images, 3 epochs, windows of 200)
  --executor <e>              where task steps run: ${demoExecutors.join(', ')} (default auto)
  --server <s>                where the model server runs: ${demoServers.join(', ')}
  --port <n>                  the server's port (default: a free one)
  --help                      show this help
`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        store: { type: 'string', default: './data/drift-demo' },
        quick: { type: 'boolean', default: false },
        executor: { type: 'string', default: 'auto' },
        server: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run with --help for the options.`);
  }
  if (values.help) return void process.stdout.write(demoUsage);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new UsageError(`--port got "${values.port}"; expected a port number 1-65535.`);
  const settings = values.quick ? { incrementSize: 3000, increment: 1, epochs: 3, validationFraction: 0.2, window: 200 } : {};
  const executor = choice('executor', values.executor, demoExecutors);
  const server = choice('server', values.server, demoServers);
  const result = await runDriftDemo({ store: values.store!, ...settings, executor, server, port });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

if (require.main === module) {
  if (process.argv.includes(runTaskFlag)) void runFlow(demoStepsFlow);
  else
    main().catch((err: Error) => {
      process.stderr.write(`${err instanceof UsageError ? `error: ${err.message}` : (err.stack ?? err.message)}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    });
}
