/**
 * Leftovers of killed writers: a flow process killed with SIGKILL halfway
 * through a streamed write leaves a temporary sibling (local) or an open
 * multipart upload (S3); the next run removes it, so repeated kills never
 * grow the store, and a live writer's temporary file is never touched.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processStartSeconds, temporarySibling, temporaryWriter, writerIsGone } from '../src/targets/temporary-names';
import { sweepLeftovers } from '../src/targets/leftovers';
import { deadPid, until } from './helpers/cron';
import { type FlowResult, startFlow } from './helpers/flow-process';
import { freshBucket, openUploads, s3FlowEnv, s3TestClient } from './helpers/s3';

const flow = 'test/fixtures/slow-writer-flow.ts';
const opts = ['--executor', 'inprocess', '--log-level', 'info'];
let dir: string;
const children: ReturnType<typeof startFlow>[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-safety-leftovers-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = startFlow(flow, [...opts, ...args], env);
  children.push(run);
  return run;
}

const temporaries = async (store: string) => (await readdir(store)).filter((n) => temporaryWriter(n) !== undefined);

async function bytesOf(store: string, names: string[]): Promise<number> {
  let total = 0;
  for (const n of names) total += (await stat(join(store, n))).size;
  return total;
}

describe('temporary names', () => {
  it('carry host, pid and start time: a dead pid, or a live pid started at another time, is a gone writer; this process is not', async () => {
    const mine = temporaryWriter(temporarySibling('/x/model.bin').slice('/x/'.length))!;
    expect(mine.pid).toBe(process.pid);
    expect(writerIsGone(mine, Date.now())).toBe(false);

    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      await until('the child to show in /proc', () => processStartSeconds(child.pid!) !== undefined);
      const started = processStartSeconds(child.pid!)!;
      expect(writerIsGone({ ...mine, pid: child.pid!, startSeconds: started }, Date.now())).toBe(false);
      expect(writerIsGone({ ...mine, pid: child.pid!, startSeconds: started - 3600 }, Date.now())).toBe(true); // a reused pid
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    expect(writerIsGone({ ...mine, pid: child.pid! }, Date.now())).toBe(true);
    // Another host's (or an older version's) file is kept unless a day old.
    expect(writerIsGone({ pid: 1 }, Date.now() - 60_000)).toBe(false);
    expect(writerIsGone({ pid: 1 }, Date.now() - 25 * 3600_000)).toBe(true);
  });
});

describe('leftovers on a local store', () => {
  it('three runs killed with SIGKILL mid-write leave at most one temporary file; the next run removes it and completes', async () => {
    const store = await mkdtemp(join(dir, 'local-'));
    const sizes: number[] = [];
    for (let round = 0; round < 3; round++) {
      const run = start(['--store', store]);
      // Killed once this run's own temporary file has grown past 4 MiB.
      await until('a temporary file of this run', async () => {
        for (const n of await temporaries(store)) {
          if (temporaryWriter(n)!.pid === run.child.pid && (await stat(join(store, n))).size > 4 * 1024 * 1024) return true;
        }
        return false;
      }, 120_000);
      run.child.kill('SIGKILL');
      await run.done;
      const left = await temporaries(store);
      expect(left.length).toBe(1); // the earlier kills' files were swept when this run started
      sizes.push(await bytesOf(store, left));
    }
    expect(Math.max(...sizes)).toBeLessThan(24 * 1024 * 1024);

    const final: FlowResult = await start(['--store', store], { SLOW_WRITER_MS: '0' }).done;
    expect(final.code, final.stderr).toBe(0);
    expect(await temporaries(store)).toEqual([]);
    expect((await stat(join(store, 'big.bin'))).size).toBe(24 * 1024 * 1024);
    const swept = final.logs.find((l) => String(l.msg).startsWith('removed 1 leftover(s) of killed writers'));
    expect(swept?.bytes).toBe(sizes[2]);
  }, 300_000);

  it("a run's sweep never removes a live writer's temporary file", async () => {
    const store = await mkdtemp(join(dir, 'live-'));
    const writer = start(['--store', store, '--name', 'slow'], { SLOW_WRITER_MS: '150' });
    await until('the live writer to be writing', async () => (await temporaries(store)).length === 1, 120_000);
    const before = await temporaries(store);
    // A second flow run (other parameters: its own flow lock) starts and sweeps the same store.
    const other = await start(['--store', store, '--name', 'quick'], { SLOW_WRITER_MB: '1', SLOW_WRITER_MS: '0' }).done;
    expect(other.code, other.stderr).toBe(0);
    expect((await temporaries(store)).filter((n) => before.includes(n))).toEqual(before);
    const done = await writer.done;
    expect(done.code, done.stderr).toBe(0);
    expect((await stat(join(store, 'slow.bin'))).size).toBe(24 * 1024 * 1024);
    expect(await temporaries(store)).toEqual([]);
  }, 300_000);

  it('sweeps a temporary folder of a dead writer, and keeps a foreign host\'s file younger than a day', async () => {
    const store = await mkdtemp(join(dir, 'sweep-'));
    const dead = temporarySibling(join(store, 'model')).replace(`-${process.pid}-`, `-${await deadPid()}-`);
    await mkdir(dead);
    await writeFile(join(dead, 'weights.bin'), 'x');
    const foreign = join(store, '.out.json.dagwright-tmp-0000abcd-42-abc123-a1b2c3-0');
    await writeFile(foreign, 'not ours to judge');
    expect((await sweepLeftovers(store)).removed).toEqual([dead]);
    expect(await readdir(store)).toEqual(['.out.json.dagwright-tmp-0000abcd-42-abc123-a1b2c3-0']);
  });
  it('removes lock temporaries a killed lock taker left (older than a minute), not a fresh one', async () => {
    const store = await mkdtemp(join(dir, 'locks-'));
    const locks = join(store, '.dagwright', 'locks');
    await mkdir(locks, { recursive: true });
    const old = join(locks, 'task-X.lock.0123456789abcdef.tmp');
    const fresh = join(locks, 'task-Y.lock.fedcba9876543210.tmp');
    await writeFile(old, '{}');
    await writeFile(fresh, '{}');
    const minutesAgo = new Date(Date.now() - 120_000);
    await utimes(old, minutesAgo, minutesAgo);
    const result = await start(['--store', store], { SLOW_WRITER_MB: '1', SLOW_WRITER_MS: '0' }).done;
    expect(result.code, result.stderr).toBe(0);
    expect(await readdir(locks)).toEqual(['task-Y.lock.fedcba9876543210.tmp']);
  });
});

describe('leftovers on an s3:// store', () => {
  it('a run killed during a multipart upload leaves an open upload; the next run aborts it and completes', async () => {
    const client = s3TestClient();
    const bucket = await freshBucket(client, 'safety-leftovers');
    const store = `s3://${bucket}/runs`;
    const env = s3FlowEnv(join(dir, 'state'));
    for (let round = 0; round < 2; round++) {
      const known = new Set((await openUploads(client, bucket)).map((u) => u.uploadId));
      const run = start(['--store', store], env);
      // s3rver's upload listing can fail (500) while an upload is being created: ask again.
      const started = async () => (await openUploads(client, bucket)).some((u) => !known.has(u.uploadId));
      await until('this run\'s multipart upload to start', () => started().catch(() => false), 120_000);
      run.child.kill('SIGKILL');
      await run.done;
      const open = await openUploads(client, bucket);
      expect(open).toHaveLength(1); // the earlier kill's upload was aborted when this run started
      expect(open[0].key).toBe('runs/big.bin');
    }
    const final = await start(['--store', store], { ...env, SLOW_WRITER_MS: '0' }).done;
    expect(final.code, final.stderr).toBe(0);
    expect(await openUploads(client, bucket)).toEqual([]);
    expect(final.logs.some((l) => String(l.msg).startsWith('removed 1 leftover(s)'))).toBe(true);
  }, 300_000);
});
