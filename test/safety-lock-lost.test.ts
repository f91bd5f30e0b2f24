/**
 * A frozen lock holder comes back: a flow process stopped with SIGSTOP past
 * the (shortened) stale limit loses its locks to a second run; resumed with
 * SIGCONT, it publishes nothing more, starts no further task, and exits 75.
 */
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { killLeftovers, ranLog, startCronFlow, until } from './helpers/cron';

afterEach(killLeftovers);

const staleMs = 3000;
const env = { DAGWRIGHT_LOCK_STALE_MS: String(staleMs), CRON_TEST_TASK_MS: '1500' };
const args = (store: string) => ['--store', store, '--executor', 'inprocess', '--workers', '1'];

describe('a frozen lock holder comes back', () => {
  it('stops before it publishes or starts anything more, and exits 75; the run that took over runs every task', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-safety-lock-lost-'));
    const frozen = startCronFlow(args(store), env);
    await until('the first task to start', async () => (await ranLog(store)).length === 1);
    const firstTask = (await ranLog(store))[0];
    frozen.child.kill('SIGSTOP');
    try {
      await sleep(staleMs + 1000);
      const takeover = await startCronFlow(args(store), env).done;
      expect(takeover.code, takeover.stderr).toBe(0);
      expect(takeover.logs.filter((l) => l.msg === 'taking over a stale lock').length).toBeGreaterThanOrEqual(2); // the flow lock and the task's
      expect((await ranLog(store)).slice(1).sort()).toEqual(['a1', 'a2', 'shared']);
    } finally {
      frozen.child.kill('SIGCONT');
    }
    const published = (await stat(join(store, `${firstTask}.txt`))).mtimeMs;
    const resumed = await frozen.done;

    expect(resumed.code).toBe(75);
    expect(resumed.logs.some((l) => String(l.msg).startsWith('lost a lock:'))).toBe(true);
    // Nothing more: its task in flight did not publish, and no other task started there.
    expect((await stat(join(store, `${firstTask}.txt`))).mtimeMs).toBe(published);
    expect(resumed.logs.filter((l) => l.msg === 'task started').map((l) => l.taskId)).toHaveLength(1);
    const log = await ranLog(store);
    expect(log.filter((n) => n === firstTask)).toHaveLength(2);
    expect(log).toHaveLength(4);
  }, 120_000);
});
