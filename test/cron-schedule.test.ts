import { parseStore } from '../src/store/store';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunHistory } from '../src/history/run-history';
import { killLeftovers, ranLog, startCronFlow, until } from './helpers/cron';

let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-cron-schedule-'));
});
afterEach(killLeftovers);

describe('--schedule', () => {
  it('runs on every tick, skips a tick while the previous run goes on, and SIGTERM cancels the run in progress (exit 143)', async () => {
    // Every second; each run takes 1.5 s, so the tick after a start finds it still going.
    const service = startCronFlow(['--store', store, '--variant', 'tick', '--executor', 'inprocess', '--schedule', '* * * * * *'], { CRON_TEST_TASK_MS: '1500' });
    let err = '';
    service.child.stderr!.on('data', (d) => (err += d));
    await until('two scheduled runs to start', async () => (await ranLog(store)).length >= 2);
    service.child.kill('SIGTERM');
    const result = await service.done;
    expect(result.code).toBe(143);

    const messages = result.logs.map((l) => l.msg);
    expect(messages.filter((m) => m === 'scheduled run starting')).toHaveLength(2);
    expect(messages).toContain('the previous scheduled run is still going; skipping this tick');
    expect(messages).toContain('scheduler stopped');
    const history = RunHistory.forStore(parseStore(store));
    const records = await history.list(10);
    expect(records.map((r) => r.status)).toEqual(['cancelled', 'succeeded']);
    expect(new Set(records.map((r) => r.runId)).size).toBe(2);
    expect(records[1].tasks).toMatchObject([{ status: 'ran', attempts: 1 }]);
    expect(err).not.toContain('\u001b['); // no colour without a terminal
  }, 90_000);

  it('rejects a bad schedule before anything runs (exit 2)', async () => {
    const bad = await startCronFlow(['--store', store, '--schedule', 'every tuesday']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--schedule got "every tuesday"');
    expect(await ranLog(store)).toEqual([]);
  }, 30_000);
});
