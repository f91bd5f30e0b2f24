import { hostname } from 'node:os';
import { mkdir, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockedError } from '../src/errors';
import { acquireLock, readLock } from '../src/locks/file-lock';
import { flowLockName } from '../src/locks/state-dir';
import { deadPid, killLeftovers, ranLog, startCronFlow, until } from './helpers/cron';
import type { FlowResult } from './helpers/flow-process';

let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-cron-lock-'));
});
afterEach(killLeftovers);

const inprocess = ['--executor', 'inprocess', '--workers', '2'];
const lockDir = () => join(store, '.dagwright', 'locks');
const lockedLine = (r: FlowResult) => r.logs.find((l) => String(l.msg).startsWith('another run of flow cron-flow')) as Record<string, any> | undefined;

/** Writes a lock file as another process would have left it. */
async function placeLock(path: string, holder: { pid: number; host: string }, ageMs = 0): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify({ ...holder, startedAt: new Date(Date.now() - ageMs).toISOString(), token: 'f00d' }));
  const at = new Date(Date.now() - ageMs);
  await utimes(path, at, at);
}

describe('flow lock', () => {
  it('ten invocations at once (over a stale lock): one runs, nine exit 75 naming the holder, every task runs once', async () => {
    const lockPath = join(lockDir(), flowLockName('cron-flow', { variant: 'a' }, store));
    await placeLock(lockPath, { pid: await deadPid(), host: hostname() });
    const gate = join(store, 'gate');
    const runs = Array.from({ length: 10 }, () => startCronFlow(['--store', store, ...inprocess], { CRON_TEST_GATE: gate }));
    const results: FlowResult[] = [];
    for (const r of runs) void r.done.then((res) => results.push(res));
    await until('nine invocations to give up', () => results.length === 9, 150_000);
    await writeFile(gate, 'go');
    await Promise.all(runs.map((r) => r.done));

    const codes = results.map((r) => r.code).sort((a, b) => a! - b!);
    expect(codes).toEqual([0, ...Array(9).fill(75)]);
    const winner = runs.find((r) => r.child.exitCode === 0)!;
    for (const loser of results.filter((r) => r.code === 75)) {
      const line = lockedLine(loser);
      expect(line?.holder).toMatchObject({ pid: winner.child.pid, host: hostname() });
      expect(line?.msg).toContain(`pid ${winner.child.pid} on ${hostname()} since`);
      expect(loser.logs.some((l) => l.msg === 'task started')).toBe(false);
    }
    expect((await ranLog(store)).sort()).toEqual(['a1', 'a2', 'shared']);
    expect((await readdir(lockDir())).filter((f) => !f.startsWith('.'))).toEqual([]);
  }, 180_000);

  it('takes over the lock of a holder killed with SIGKILL', async () => {
    const gate = join(store, 'gate');
    const first = startCronFlow(['--store', store, ...inprocess], { CRON_TEST_GATE: gate });
    await until('the first run to start its tasks', async () => (await ranLog(store)).length >= 2);
    first.child.kill('SIGKILL');
    await first.done;
    const lockPath = join(lockDir(), flowLockName('cron-flow', { variant: 'a' }, store));
    expect((await readLock(lockPath))?.pid).toBe(first.child.pid);

    const second = await startCronFlow(['--store', store, ...inprocess]).done;
    expect(second.code).toBe(0);
    const takeovers = second.logs.filter((l) => l.msg === 'taking over a stale lock');
    // The flow lock and the task locks the killed run held.
    expect(takeovers.length).toBeGreaterThanOrEqual(2);
    expect(takeovers[0].reason).toContain(`holder pid ${first.child.pid} on this host is not running`);
    expect(await readLock(lockPath)).toBeUndefined();
  }, 90_000);

  it('--wait waits for the run holding the lock, then finds everything complete', async () => {
    const gate = join(store, 'gate');
    const first = startCronFlow(['--store', store, ...inprocess], { CRON_TEST_GATE: gate });
    await until('the first run to start its tasks', async () => (await ranLog(store)).length >= 1);
    const second = startCronFlow(['--store', store, ...inprocess, '--wait'], { CRON_TEST_GATE: gate });
    let secondErr = '';
    second.child.stderr!.on('data', (d) => (secondErr += d));
    await until('the second run to wait', () => secondErr.includes('holds the lock; waiting for it'));
    await writeFile(gate, 'go');
    const [a, b] = await Promise.all([first.done, second.done]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(b.logs.find((l) => l.msg === 'run summary')?.counts).toMatchObject({ ran: 0, complete: 1 });
    expect((await ranLog(store)).sort()).toEqual(['a1', 'a2', 'shared']);
  }, 90_000);

  it('two flows sharing a task run it once: the second waits for it and finds it complete', async () => {
    const gate = join(store, 'gate');
    const a = startCronFlow(['--store', store, '--variant', 'a', ...inprocess], { CRON_TEST_GATE: gate });
    await until('flow a to start the shared task', async () => (await ranLog(store)).includes('shared'));
    const b = startCronFlow(['--store', store, '--variant', 'b', ...inprocess], { CRON_TEST_GATE: gate });
    let bErr = '';
    b.child.stderr!.on('data', (d) => (bErr += d));
    await until('flow b to wait for the shared task', () => bErr.includes('another run is running this task; waiting for it'));
    await writeFile(gate, 'go');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    expect((await ranLog(store)).sort()).toEqual(['a1', 'a2', 'b1', 'shared']);
    expect(rb.logs.some((l) => l.msg === 'task was completed by another run meanwhile; not running it again' && String(l.taskId).startsWith('Step_shared'))).toBe(true);
  }, 90_000);
});

describe('acquireLock', () => {
  it('lets exactly one of many takers win a stale lock', async () => {
    const path = join(lockDir(), 'race.lock');
    await placeLock(path, { pid: await deadPid(), host: hostname() });
    const tries = await Promise.allSettled(Array.from({ length: 20 }, () => acquireLock(path)));
    const won = tries.filter((t) => t.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const t of tries) if (t.status === 'rejected') expect(t.reason).toBeInstanceOf(LockedError);
    const lock = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value;
    expect((await readLock(path))?.token).toBe(lock.token);
    await lock.release();
    expect(await readLock(path)).toBeUndefined();
  });

  it('judges a lock from another host by its heartbeat: fresh is held, old is taken over', async () => {
    const path = join(lockDir(), 'remote.lock');
    await placeLock(path, { pid: 4242, host: 'elsewhere' });
    const err = await acquireLock(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).message).toContain('pid 4242 on elsewhere since');

    await placeLock(path, { pid: 4242, host: 'elsewhere' }, 120_000);
    const lock = await acquireLock(path, { staleMs: 60_000 });
    expect((await readLock(path))?.pid).toBe(process.pid);
    await lock.release();
  });

  it('refreshes its heartbeat while held, and a waiter gets the lock once it is released', async () => {
    const path = join(lockDir(), 'beat.lock');
    const lock = await acquireLock(path, { heartbeatMs: 50 });
    const before = (await readLock(path))!.heartbeatAt;
    await new Promise((r) => setTimeout(r, 200));
    expect(Date.parse((await readLock(path))!.heartbeatAt)).toBeGreaterThan(Date.parse(before));
    const waiting = acquireLock(path, { wait: true, pollMs: 20 });
    setTimeout(() => void lock.release(), 100);
    const next = await waiting;
    expect((await readLock(path))?.token).toBe(next.token);
    await next.release();
  });
});
