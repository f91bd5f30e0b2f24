/**
 * A drifted window's event is decided once, by the monitor that created it;
 * one left 'deciding' by a monitor that died before it decided is taken over
 * after ABANDONED_DECIDING_MS, so the window is not lost.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger, taskContext } from '../src/public/runtime';
import { ABANDONED_DECIDING_MS, type DriftEvent, recordDriftEvent } from '../tasks/drift/drift-events';

let store: string;
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-drift-events-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

const ctx = (taskId: string) => taskContext({ runId: `run-${taskId}`, taskId, attempt: 1, signal: new AbortController().signal, logger: createLogger({ level: 'silent' }) });
const base = (windowKey: string) => ({ time: new Date().toISOString(), model: 'm', version: 1, windowKey, report: 'r.json', drifted: ['entropy-ks'] });

async function leftDeciding(windowKey: string, ageMs: number): Promise<void> {
  const dir = join(store, 'monitoring', 'm', 'events');
  await mkdir(dir, { recursive: true });
  const event: DriftEvent = { ...base(windowKey), time: new Date(Date.now() - ageMs).toISOString(), action: 'deciding', monitorTaskId: 'Dead_1', monitorRunId: 'run-dead' };
  await writeFile(join(dir, `${windowKey}.json`), JSON.stringify(event));
}

it("decides a window once: the creator's decision stands, later monitors find it handled", async () => {
  const first = await recordDriftEvent(ctx('MonitorA'), store, base('w1'), async () => ({ action: 'disabled' }));
  expect(first).toMatchObject({ action: 'disabled', monitorTaskId: 'MonitorA' });
  const second = await recordDriftEvent(ctx('MonitorB'), store, base('w1'), async () => ({ action: 'retrain' }));
  expect(second).toMatchObject({ action: 'already-handled', monitorTaskId: 'MonitorA' });
});

it('leaves a window another monitor is deciding now, and takes over one a dead monitor left deciding', async () => {
  await leftDeciding('w2', 60_000);
  expect(await recordDriftEvent(ctx('MonitorC'), store, base('w2'), async () => ({ action: 'disabled' }))).toMatchObject({ action: 'already-handled', monitorTaskId: 'Dead_1' });
  await leftDeciding('w3', ABANDONED_DECIDING_MS + 60_000);
  const taken = await recordDriftEvent(ctx('MonitorC'), store, base('w3'), async () => ({ action: 'disabled' }));
  expect(taken).toMatchObject({ action: 'disabled', monitorTaskId: 'MonitorC' });
  expect(JSON.parse(await readFile(join(store, 'monitoring', 'm', 'events', 'w3.json'), 'utf8'))).toMatchObject({ action: 'disabled', monitorTaskId: 'MonitorC' });
});
