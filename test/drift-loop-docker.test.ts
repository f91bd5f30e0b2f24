/**
 * The drift loop once in Docker, with the small settings of
 * drift-loop.test.ts: every task step (preprocess, train, evaluate,
 * register, the drift reference, the check, the monitor, the retraining) in
 * its own container through the Docker executor, and the model server
 * deployed as a container on the host network, with traffic over plain HTTP
 * from this process. The engine's own start events are the witness that each
 * step ran in a container. Needs an engine, dagwright/runner and
 * dagwright/server (containers/build --offline --baked, after
 * `npx tsc -p tsconfig.json`); skipped without an engine (failing under CI=true).
 */
import Docker from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { Labels } from '../src/executors/container/labels';
import { type DriftDemoResult, freeLoopbackPort, runDriftDemo } from '../flows/drift-demo';
import { removeDockerServers, SERVER_IMAGE, serverContainers, ServerLabels } from '../tasks/serving';
import { describeDocker } from './helpers/docker';

const logger = createLogger({ level: 'warn' });

/** A container the engine started while the demo ran: the step's task id (none for the server) and its image. */
interface Started {
  readonly taskId: string | undefined;
  readonly image: string;
  readonly servePort: string | undefined;
}

/** Collects the engine's container start events until the returned stream is destroyed. */
async function watchStarts(docker: Docker, into: Started[]): Promise<Readable> {
  const filters = JSON.stringify({ type: ['container'], event: ['start'] });
  const stream = (await docker.getEvents({ filters } as never)) as unknown as Readable;
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const attributes = (JSON.parse(pending.slice(0, nl)) as { Actor?: { Attributes?: Record<string, string> } }).Actor?.Attributes ?? {};
      pending = pending.slice(nl + 1);
      // Only this process's steps, and the server on this test's port.
      if (attributes[Labels.ownerPid] === String(process.pid) || attributes[ServerLabels.port] === String(port)) {
        into.push({ taskId: attributes[Labels.taskId], image: attributes.image, servePort: attributes[ServerLabels.port] });
      }
    }
  });
  stream.on('error', () => {});
  return stream;
}

let store: string;
let port: number;
let result: DriftDemoResult;
let events: Readable | undefined;
const started: Started[] = [];
let wallSeconds = 0;

describeDocker('the drift loop in Docker', () => {
  const docker = new Docker();

  beforeAll(async () => {
    await docker
      .getImage(SERVER_IMAGE)
      .inspect()
      .catch(() => {
        throw new Error(`${SERVER_IMAGE} is missing: build it with npx tsc -p tsconfig.json && bash containers/build --offline --baked`);
      });
    store = await mkdtemp(join(tmpdir(), 'dagwright-drift-loop-docker-'));
    port = await freeLoopbackPort();
    events = await watchStarts(docker, started);
    const t0 = performance.now();
    result = await runDriftDemo({ store, incrementSize: 3000, increment: 1, epochs: 3, validationFraction: 0.2, window: 200, executor: 'docker', port, logger });
    wallSeconds = (performance.now() - t0) / 1000;
    const { steps: _steps, reports: _reports, ...figures } = result;
    console.log(`drift loop in Docker: ${wallSeconds.toFixed(1)} s wall, ${started.length} containers started`, JSON.stringify(figures));
  }, 600_000);

  afterAll(async () => {
    events?.destroy();
    await removeDockerServers(docker, port);
    const mine = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${Labels.ownerPid}=${process.pid}`] }) });
    await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('finds no drift in MNIST traffic and drift in optdigits traffic', () => {
    expect(result.mnistDrift).toBe(false);
    expect(result.optdigitsDrift).toBe(true);
    expect(result.action).toBe('retrain');
    // Drift on the served version, or (once the retrained version serves) that verdict marked stale and left out.
    expect([`dagwright_drift_detected{model="mnist-digits",version="${result.firstVersion}"} 1`, 'dagwright_drift_report_stale 1']).toContain(result.driftMetric);
  });

  it('ran every step, the retraining included, in its own container on the Docker executor', () => {
    expect(result.executor).toBe('docker');
    const families = new Set(result.steps.map((s) => s.family));
    for (const family of ['PreprocessIncrement', 'TrainModel', 'EvaluateModel', 'RegisterModel', 'DeployModelServer', 'DriftReference', 'DriftCheck', 'MonitorDrift', 'DriftIncrement', 'RetrainModel', 'RegisterRetrained']) {
      expect(families, family).toContain(family);
    }
    expect(result.steps.filter((s) => s.executor !== 'docker')).toEqual([]);
    const inContainers = new Set(started.filter((s) => s.taskId !== undefined && s.image.startsWith('dagwright/runner')).map((s) => s.taskId));
    expect(result.steps.filter((s) => !inContainers.has(s.id)).map((s) => s.id)).toEqual([]);
  });

  it('served from a container, which swapped to the new champion and is gone afterwards', async () => {
    expect(result.server).toBe('docker');
    expect(result.serverUrl).toBe(`http://127.0.0.1:${port}`);
    expect(started.filter((s) => s.servePort === String(port)).map((s) => s.image)).toEqual([SERVER_IMAGE]);
    expect(result.finalVersion).toBe(result.firstVersion + 1);
    expect(result.servedAfter).toBe(result.finalVersion);
    expect(await serverContainers(docker, port)).toEqual([]);
  });

  it('raises optdigits accuracy by more than 10 points', () => {
    expect(result.optdigitsAccuracyAfter).toBeGreaterThan(result.optdigitsAccuracyBefore + 0.1);
    expect(result.mnistTestAccuracyAfter).toBeGreaterThan(0.9);
  });
});
