import { mkdtemp, readdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dagwright, killLeftovers, ranLog, startCronFlow, until } from './helpers/cron';

let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-cron-history-'));
});
afterEach(killLeftovers);

const inprocess = ['--executor', 'inprocess', '--workers', '2'];

async function listRuns(): Promise<Record<string, any>[]> {
  const listed = await dagwright(['runs', 'list', '--store', store, '--json']);
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout) as Record<string, any>[];
}

describe('run history', () => {
  it('records a good run: flow, parameters, host, pid, and each task with status, attempts, duration and executor', async () => {
    const run = startCronFlow(['--store', store, ...inprocess]);
    expect((await run.done).code).toBe(0);
    const [record, ...others] = await listRuns();
    expect(others).toEqual([]);
    expect(record).toMatchObject({ flow: 'cron-flow', params: { variant: 'a' }, store, host: hostname(), pid: run.child.pid, status: 'succeeded', shownStatus: 'succeeded' });
    expect(record.counts).toMatchObject({ ran: 4, failed: 0 });
    expect(Date.parse(record.endedAt)).toBeGreaterThanOrEqual(Date.parse(record.startedAt));
    expect(record.tasks).toHaveLength(4);
    for (const task of record.tasks) {
      expect(task).toMatchObject({ status: 'ran', attempts: 1, executor: 'inprocess' });
      expect(task.durationMs).toEqual(expect.any(Number));
    }

    const shown = await dagwright(['runs', 'show', record.runId, '--store', store]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`run ${record.runId}: flow cron-flow, succeeded`);
    expect(shown.stdout).toContain('params   variant=a');
    expect(shown.stdout).toContain('ran (4):');
  }, 90_000);

  it('records a failed run with its failure and what it blocked; show prints them', async () => {
    const failed = await startCronFlow(['--store', store, ...inprocess], { CRON_TEST_FAIL: 'a2' }).done;
    expect(failed.code).toBe(1);
    const [record] = await listRuns();
    expect(record.status).toBe('failed');
    expect(record.tasks.find((t: any) => t.status === 'failed')).toMatchObject({ id: expect.stringMatching(/^Step_a2_/), attempts: 1, error: expect.stringContaining('a2 failed on purpose') });
    expect(record.tasks.find((t: any) => t.status === 'blocked')).toMatchObject({ id: expect.stringMatching(/^Top_a_/), blockedBy: expect.stringMatching(/^Step_a2_/) });

    const shown = await dagwright(['runs', 'show', 'latest', '--store', store]);
    expect(shown.stdout).toContain(`run ${record.runId}: flow cron-flow, failed`);
    expect(shown.stdout).toMatch(/failed \(1\):\n {2}Step_a2_\S+ after 1 attempt\(s\), [\d.]+ s: .*a2 failed on purpose/);
    expect(shown.stdout).toContain('blocked by a failure (1):');
  }, 90_000);

  it('shows a run killed with SIGKILL as unfinished, with the tasks it was running', async () => {
    const killed = startCronFlow(['--store', store, ...inprocess], { CRON_TEST_GATE: join(store, 'never') });
    await until('the run to start its tasks', async () => (await ranLog(store)).length >= 2);
    // The record is rewritten about a second after tasks start: wait until it names them.
    await until('the record to list running tasks', async () => {
      const [record] = await listRuns().catch(() => []);
      return record?.tasks?.filter((t: any) => t.status === 'running').length >= 2;
    });
    killed.child.kill('SIGKILL');
    await killed.done;

    const [record] = await listRuns();
    expect(record).toMatchObject({ status: 'running', shownStatus: 'unfinished', pid: killed.child.pid });
    expect(record.endedAt).toBeUndefined();
    const list = await dagwright(['runs', 'list', '--store', store]);
    expect(list.stdout).toMatch(new RegExp(`${record.runId}\\s+cron-flow\\s+unfinished`));
    const shown = await dagwright(['runs', 'show', record.runId, '--store', store]);
    expect(shown.stdout).toContain('the process is gone: killed or crashed');
    expect(shown.stdout).toContain('running when the run stopped (2):');
    expect((await readdir(join(store, '_runs'))).filter((f) => f.endsWith('.json'))).toHaveLength(1);
  }, 90_000);

  it('says what is wrong with a runs command: unknown run, bad limit', async () => {
    const missing = await dagwright(['runs', 'show', '20260101T000000Z-abcdef', '--store', store]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no run 20260101T000000Z-abcdef in');
    const badLimit = await dagwright(['runs', 'list', '--store', store, '--limit', 'lots']);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit got "lots"; expected an integer >= 1.');
  }, 30_000);
});
