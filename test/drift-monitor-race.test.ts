/**
 * Two drift monitors started at the same moment, in two processes, against
 * one store: a real (small) MNIST model, a prediction log of optdigits
 * digits (written with the server's own log writer, standing in for the
 * server), and real retraining. Each monitor runs through the library's
 * run() in test/fixtures/drift-monitor.ts, which takes no flow or task lock,
 * so only the monitor's own event and claim keep them apart.
 *
 *   - the same drifted window: one event, one claim, one retraining; the
 *     other monitor reports 'already-handled'
 *   - two different drifted windows: one event each, one claim, one
 *     retraining; the other monitor reports 'cooldown'
 *
 * Both on a folder and on an S3 bucket of s3rver, which ignores
 * `If-None-Match` (so there only the monitors' store lock, held on this one
 * machine, keeps them apart).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, formatSummary } from '../src/public/runtime';
import { run } from '../src';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import type { DriftEvent } from '../tasks/drift/drift-events';
import type { MonitorParams } from '../tasks/mnist/monitor-task';
import { DriftReference } from '../tasks/drift/reference-task';
import { readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { RegisterModel } from '../tasks/mnist/register-task';
import { ModelRegistry } from '../tasks/registry/registry';
import { directoryAt, fileAt, listUnder } from '../tasks/store';
import { writeOptdigitsLog } from './fixtures/drift-log';
import { freshBucket, s3FlowEnv, s3TestClient } from './helpers/s3';

const repoRoot = resolve(__dirname, '..');
const logger = createLogger({ level: 'warn' });
const SAME_WINDOW = 'race-same-window';
const TWO_WINDOWS = 'race-two-windows';
const TRAINING = { increment: 1, incrementSize: 2000, epochs: 2, validationFraction: 0.2 };

interface MonitorOutcome {
  ok: boolean;
  taskId: string;
  ran: string[];
  decision: { action: string; drift: boolean; window: { key: string } };
}

interface StoreUnderTest {
  readonly uri: string;
  /** What the monitor processes need to reach the store (and share one machine's lock folder). */
  readonly env: NodeJS.ProcessEnv;
  readonly cleanUp: () => Promise<void>;
}

async function folderStore(): Promise<StoreUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'dagwright-drift-race-'));
  return { uri: dir, env: {}, cleanUp: () => rm(dir, { recursive: true, force: true }) };
}

async function s3Store(): Promise<StoreUnderTest> {
  const stateDir = await mkdtemp(join(tmpdir(), 'dagwright-drift-race-state-'));
  const env = { ...s3FlowEnv(stateDir), AWS_REGION: 'us-east-1' };
  // This process reads and writes the store too (the shared S3 client is made from the environment on first use).
  Object.assign(process.env, env);
  const uri = `s3://${await freshBucket(s3TestClient(), 'drift-race')}/store`;
  return { uri, env, cleanUp: () => rm(stateDir, { recursive: true, force: true }) };
}

/** Two registered models (one per case, so each starts with no claim), their references, logs, and labelled optdigits. */
async function prepare(store: string): Promise<void> {
  for (const modelName of [SAME_WINDOW, TWO_WINDOWS]) {
    const trained = await run(new RegisterModel({ store, modelName, ...TRAINING }), { logger, workers: 1 });
    if (!trained.ok) throw new Error(formatSummary(trained));
    // Computed once per version, as a first monitor would have long before: the race is over what a drifted window starts.
    const reference = await run(new DriftReference({ store, modelName, version: 1 }), { logger });
    if (!reference.ok) throw new Error(formatSummary(reference));
    await writeOptdigitsLog(store, modelName);
  }
  const { labelled } = await readOptdigitsSplit();
  await writeLabelledBatch(store, 'optdigits-labelled', { pixels: labelled.pixels, labels: labelled.labels!, source: 'optdigits:labelled (own labels)' });
}

/** Monitor settings: the newest `last` records up to `until` (a cron monitor's start); retraining small (one epoch, labelled optdigits once). */
function monitorParams(store: string, modelName: string, last: number, until: Date): MonitorParams {
  return { store, modelName, last, until: until.toISOString(), cooldownMinutes: 60, trainIncrement: 1, trainIncrementSize: 2000, trainEpochs: 1, oversample: 1, testSources: 'optdigits:heldout' };
}

function startMonitor(params: MonitorParams, env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void>; done: Promise<MonitorOutcome> } {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(repoRoot, 'test/fixtures/drift-monitor.ts'), JSON.stringify(params)], {
    cwd: repoRoot,
    env: { ...process.env, ...env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  child.stdout!.on('data', (d) => {
    stdout += d;
    if (stdout.includes('ready\n')) markReady();
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<MonitorOutcome>((resolveDone, reject) => {
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`monitor exited ${code}:\n${stderr}`));
      else resolveDone(JSON.parse(last) as MonitorOutcome);
    });
  });
  return { child, ready, done };
}

/** Starts both monitors, waits until both are loaded, then lets them go at once. */
async function race(env: NodeJS.ProcessEnv, a: MonitorParams, b: MonitorParams): Promise<MonitorOutcome[]> {
  const monitors = [startMonitor(a, env), startMonitor(b, env)];
  try {
    await Promise.all(monitors.map((m) => m.ready));
    for (const m of monitors) m.child.stdin!.write('go\n');
    return await Promise.all(monitors.map((m) => m.done));
  } finally {
    for (const m of monitors) if (m.child.exitCode === null) m.child.kill('SIGKILL');
  }
}

const retrainings = (outcome: MonitorOutcome) => outcome.ran.filter((f) => f === 'RegisterRetrained').length;

describe.each([
  ['a folder', folderStore],
  ['an S3 bucket of s3rver (If-None-Match ignored)', s3Store],
])('two monitors racing on %s', (_kind, makeStore) => {
  let store: StoreUnderTest;
  beforeAll(async () => {
    store = await makeStore();
    await prepare(store.uri);
  }, 600_000);
  afterAll(async () => {
    await store?.cleanUp();
  });

  const monitoring = (model: string, ...parts: string[]) => directoryAt(store.uri, 'monitoring', model, ...parts);
  const readEvents = async (model: string) =>
    Promise.all((await listUnder(monitoring(model, 'events'))).map((f) => fileAt(store.uri, 'monitoring', model, 'events', f).readJson<DriftEvent>()));
  const versions = async (model: string) => (await new ModelRegistry(store.uri, model).versions()).map((v) => v.version).sort();

  it('on the same drifted window: one event, one claim, one retraining; the other finds it handled', async () => {
    // Two cron monitors a millisecond apart: other task ids, the same 200 records.
    const now = Date.now();
    const outcomes = await race(store.env, monitorParams(store.uri, SAME_WINDOW, 200, new Date(now)), monitorParams(store.uri, SAME_WINDOW, 200, new Date(now + 1)));
    expect(outcomes.every((o) => o.decision.drift)).toBe(true);
    expect(outcomes[0].decision.window.key).toBe(outcomes[1].decision.window.key);
    expect(outcomes.map((o) => o.decision.action).sort()).toEqual(['already-handled', 'retrain']);
    const winner = outcomes.find((o) => o.decision.action === 'retrain')!;
    const events = await readEvents(SAME_WINDOW);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'retrain', claim: 1, monitorTaskId: winner.taskId });
    expect(await listUnder(monitoring(SAME_WINDOW, 'retrain-claims'))).toEqual(['1']);
    // Only the winner's process trained and registered a model: one new version, one trained model.
    expect(outcomes.map(retrainings).sort()).toEqual([0, 1]);
    expect(winner.ran).toContain('RetrainModel');
    expect(await versions(SAME_WINDOW)).toEqual([1, 2]);
    expect(new Set((await listUnder(directoryAt(store.uri, 'drift', 'models'))).map((f) => f.split('/')[0])).size).toBe(1);
  }, 300_000);

  it('on two different drifted windows: one event each, one claim, one retraining; the other is in the cooldown', async () => {
    const now = new Date();
    const outcomes = await race(store.env, monitorParams(store.uri, TWO_WINDOWS, 200, now), monitorParams(store.uri, TWO_WINDOWS, 150, now));
    expect(outcomes.every((o) => o.decision.drift)).toBe(true);
    expect(outcomes[0].decision.window.key).not.toBe(outcomes[1].decision.window.key);
    expect(outcomes.map((o) => o.decision.action).sort()).toEqual(['cooldown', 'retrain']);
    const events = await readEvents(TWO_WINDOWS);
    expect(events.map((e) => e.windowKey).sort()).toEqual(outcomes.map((o) => o.decision.window.key).sort());
    expect(events.map((e) => e.action).sort()).toEqual(['cooldown', 'retrain']);
    expect(await listUnder(monitoring(TWO_WINDOWS, 'retrain-claims'))).toEqual(['1']);
    expect(outcomes.map(retrainings).sort()).toEqual([0, 1]);
    expect(await versions(TWO_WINDOWS)).toEqual([1, 2]);
  }, 300_000);
});
