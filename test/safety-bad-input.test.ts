/**
 * Bad input through a real flow process: each exits with its documented
 * code, prints no stack trace, and writes nothing (no lock folder, no run
 * record): a --store that is a file or sits under one, an unknown executor
 * engine, a bad store URI, a bad parameter, and a full disk (a small tmpfs,
 * full of bytes, or out of inodes, where this machine lets the test mount one).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cronFlow } from './helpers/cron';
import { type FlowResult, runFlowProcess } from './helpers/flow-process';

const stackLine = /^\s+at .+:\d+:\d+\)?$/m;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-safety-bad-input-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every path under `root`, so a test can see that nothing was added. */
async function tree(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).map(String).sort();
}

function expectCleanFailure(result: FlowResult, code: number, says: string): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toContain(says);
  expect(result.stderr).not.toMatch(stackLine);
}

const run = (args: string[], env?: NodeJS.ProcessEnv) => runFlowProcess(cronFlow, ['--executor', 'inprocess', ...args], env);

describe('bad input writes nothing', () => {
  it('--store naming an existing file: exit 2 naming the path', async () => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'data');
    const before = await tree(dir);
    for (const store of [file, join(file, 'sub')]) {
      const result = await run(['--store', store]);
      expectCleanFailure(result, 2, `--store ${store}`);
      expect(result.stderr).toContain(`${file} is a file, not a folder`);
    }
    expect(await tree(dir)).toEqual(before);
    expect(await readFile(file, 'utf8')).toBe('data');
  });

  it('--executor docker without an engine: exit 2, no lock folder and no run record', async () => {
    const store = join(dir, 'no-engine');
    await mkdir(store);
    const result = await runFlowProcess(cronFlow, ['--store', store, '--executor', 'docker'], { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` });
    expectCleanFailure(result, 2, 'Docker');
    expect(await tree(store)).toEqual([]);
  });

  it('a bad parameter or store URI: exit 2, nothing written', async () => {
    const store = join(dir, 'bad-param');
    await mkdir(store);
    expectCleanFailure(await run(['--store', store, '--variant', 'zz']), 2, '"zz"');
    expectCleanFailure(await run(['--store', 's3:///prefix']), 2, 'needs a bucket');
    expect(await tree(store)).toEqual([]);
  });
});

/** Mounts a tmpfs of `size` (and `inodes`) at a fresh folder; undefined when this machine does not let us. */
function mountTmpfs(name: string, options: string): string | undefined {
  const at = join(tmpdir(), `dagwright-safety-${name}-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', at]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at], { stdio: 'pipe' });
    return at;
  } catch (err) {
    console.warn(`\n*** SKIPPED full-disk test "${name}": cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root and mount rights.\n`);
    return undefined;
  }
}

function unmount(at: string): void {
  execFileSync('umount', [at]);
  execFileSync('rmdir', [at]);
}

describe('a full disk at start', () => {
  it('no space left: one line naming the store and what to do, exit 2, nothing written', async (ctx) => {
    const at = mountTmpfs('full', 'size=256k');
    if (!at) return ctx.skip();
    try {
      const store = join(at, 'store');
      await mkdir(store);
      await writeFile(join(at, 'filler'), Buffer.alloc(256 * 1024)).catch(() => undefined); // fills it up
      const before = await tree(at);
      const result = await run(['--store', store]);
      expectCleanFailure(result, 2, `--store ${store}: its disk is full`);
      expect(result.stderr).toContain('Free some space there, or pass --store a folder on another disk.');
      expect(result.stderr.trim().split('\n').filter((l) => l.includes('disk is full'))).toHaveLength(1);
      expect(await tree(at)).toEqual(before);
    } finally {
      unmount(at);
    }
  });

  it('out of inodes (bytes free, ENOSPC on create): the same clear line, nothing left behind', async (ctx) => {
    const at = mountTmpfs('inodes', 'size=8m,nr_inodes=16');
    if (!at) return ctx.skip();
    try {
      const store = join(at, 'store');
      await mkdir(store);
      for (let i = 0; ; i++) {
        try {
          await writeFile(join(at, `f${i}`), '');
        } catch {
          break; // ENOSPC: no inode left
        }
      }
      const before = await tree(at);
      const result = await run(['--store', store]);
      expectCleanFailure(result, 2, `--store ${store}: its disk is full`);
      expect(await tree(at)).toEqual(before);
    } finally {
      unmount(at);
    }
  });
});
