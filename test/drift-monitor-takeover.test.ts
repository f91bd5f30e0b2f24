/**
 * A drift monitor killed (SIGKILL) while its retraining runs, or the instant
 * it created its event, through real `flows/monitor.ts` processes on one
 * folder store: a real (small) MNIST model, a prediction log of optdigits
 * digits, labelled optdigits, and real (small) retraining. The next monitor
 * finds the claim or the event owned by a run that is gone and takes the
 * work over at once (no cooldown, no 10-minute wait): the retraining is
 * finished exactly once (one claim, one new version), the claim is marked
 * finished and names whom it was taken from, and a monitor after that finds
 * the window handled and trains nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, formatSummary } from '../src/public/runtime';
import { run } from '../src';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import type { DriftEvent, RetrainClaim } from '../tasks/drift/drift-events';
import { DriftReference } from '../tasks/drift/reference-task';
import { readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { RegisterModel } from '../tasks/mnist/register-task';
import { ModelRegistry } from '../tasks/registry/registry';
import { fileAt, listUnder, directoryAt } from '../tasks/store';
import { writeOptdigitsLog } from './fixtures/drift-log';
import { type FlowResult, startFlow } from './helpers/flow-process';

const logger = createLogger({ level: 'warn' });
const KILLED_RETRAINING = 'killed-retraining';
const KILLED_AT_EVENT = 'killed-at-event';
let store: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-monitor-takeover-'));
  for (const modelName of [KILLED_RETRAINING, KILLED_AT_EVENT]) {
    const trained = await run(new RegisterModel({ store, modelName, increment: 1, incrementSize: 2000, epochs: 2, validationFraction: 0.2 }), { logger, workers: 1 });
    if (!trained.ok) throw new Error(formatSummary(trained));
    const reference = await run(new DriftReference({ store, modelName, version: 1 }), { logger });
    if (!reference.ok) throw new Error(formatSummary(reference));
    await writeOptdigitsLog(store, modelName);
  }
  const { labelled } = await readOptdigitsSplit();
  await writeLabelledBatch(store, 'optdigits-labelled', { pixels: labelled.pixels, labels: labelled.labels!, source: 'optdigits:labelled (own labels)' });
}, 600_000);

afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(store, { recursive: true, force: true });
});

/** flows/monitor.ts on the newest 200 records, retraining small (one epoch, labelled optdigits once), a 60-minute cooldown. */
function startMonitor(model: string): { child: ChildProcess; done: Promise<FlowResult>; stderr: () => string } {
  const args = ['--store', store, '--model-name', model, '--last', '200', '--cooldown-minutes', '60', '--train-increment', '1', '--train-increment-size', '2000'];
  args.push('--train-epochs', '1', '--oversample', '1', '--test-sources', 'optdigits:heldout', '--executor', 'inprocess', '--workers', '1');
  const started = startFlow('flows/monitor.ts', args);
  running.push(started.child);
  let stderr = '';
  started.child.stderr!.on('data', (d) => (stderr += d));
  return { ...started, stderr: () => stderr };
}

/** Resolves once `check` holds, looking every 5 ms. */
async function until(check: () => boolean, what: string, ms = 300_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const claims = (model: string) => listUnder(directoryAt(store, 'monitoring', model, 'retrain-claims'));
const claim = (model: string, n: number) => fileAt(store, 'monitoring', model, 'retrain-claims', String(n)).readJson<RetrainClaim>();
const events = async (model: string) =>
  Promise.all((await listUnder(directoryAt(store, 'monitoring', model, 'events'))).map((f) => fileAt(store, 'monitoring', model, 'events', f).readJson<DriftEvent>()));
const versions = async (model: string) => (await new ModelRegistry(store, model).versions()).map((v) => v.version).sort();
const actionOf = (result: FlowResult) => result.logs.find((l) => typeof l.action === 'string' && 'drift' in l)?.action;
const ranFamilies = (result: FlowResult) => result.logs.filter((l) => l.msg === 'task succeeded').map((l) => String(l.taskId).split('_')[0]);

/** The next monitor takes over at once and finishes the retraining; one after it finds the window handled. */
async function expectTakenOver(model: string): Promise<void> {
  const started = Date.now();
  const next = await startMonitor(model).done;
  expect(next.code, next.stderr).toBe(0);
  expect(actionOf(next)).toBe('retrain');
  expect(next.stderr).toMatch(/is gone; taking its work over here|took over retraining claim 1/);
  // Within the run, not after a cooldown or the 10-minute limit for an abandoned decision.
  expect(Date.now() - started).toBeLessThan(5 * 60_000);
  expect(await claims(model)).toEqual(['1']);
  const taken = await claim(model, 1);
  expect(taken.finished).toBeDefined();
  expect(await versions(model)).toEqual([1, 2]);
  expect((await events(model)).map((e) => e.action)).toEqual(['retrain']);

  const after = await startMonitor(model).done;
  expect(after.code, after.stderr).toBe(0);
  expect(actionOf(after)).toBe('already-handled');
  expect(ranFamilies(after)).not.toContain('RegisterRetrained');
  expect(await versions(model)).toEqual([1, 2]);
  expect(await claims(model)).toEqual(['1']);
}

describe('a drift monitor killed mid-way', () => {
  it('SIGKILLed while its retraining runs: the next monitor takes the claim over at once and finishes the retraining once', async () => {
    const first = startMonitor(KILLED_RETRAINING);
    await until(() => /"taskId":"RetrainModel[^"]*","attempt":1,"msg":"task started"/.test(first.stderr()), 'the retraining to start');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    // Left behind: the event says retrain, claim 1 is taken and unfinished, no new version.
    expect((await events(KILLED_RETRAINING)).map((e) => e.action)).toEqual(['retrain']);
    expect((await claim(KILLED_RETRAINING, 1)).finished).toBeUndefined();
    expect(await versions(KILLED_RETRAINING)).toEqual([1]);
    await expectTakenOver(KILLED_RETRAINING);
    expect((await claim(KILLED_RETRAINING, 1)).takenOverFrom).toHaveLength(1);
  }, 900_000);

  it('SIGKILLed the instant its event appeared: the next monitor decides the window at once and retrains once', async () => {
    const first = startMonitor(KILLED_AT_EVENT);
    const eventDir = join(store, 'monitoring', KILLED_AT_EVENT, 'events');
    await until(() => existsSync(eventDir) && readdirSync(eventDir).some((f) => f.endsWith('.json')), 'the event to appear');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    expect(await versions(KILLED_AT_EVENT)).toEqual([1]);
    await expectTakenOver(KILLED_AT_EVENT);
  }, 900_000);
});
