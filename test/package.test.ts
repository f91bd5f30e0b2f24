/**
 * The package as a user gets it: `npm pack` ships the compiled library and
 * nothing of the repository's tests or benchmarks; installed into an empty
 * project, a custom two-task flow runs there in process and in Docker.
 * Needs the compiled dist/ (`npx tsc -p tsconfig.json`, as CI does first).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDocker } from './helpers/docker';
import { repoRoot } from './helpers/flow-process';

const exec = promisify(execFile);
let dir: string;
let project: string;
let packed: { files: { path: string }[]; filename: string };

/** Runs the consumer's flow with node (no ts-node: an installed package runs its compiled JavaScript). */
async function consumerFlow(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await exec(process.execPath, ['flow.js', ...args], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stderr };
  } catch (err) {
    const failed = err as { code?: number; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stderr: failed.stderr ?? String(err) };
  }
}

/** Compiled files whose source is gone (renamed or removed): they would ship, and `./x` would load a stale `x.js` before `x/index.js`. */
async function orphanedOutputs(): Promise<string[]> {
  const compiled = (await readdir(join(repoRoot, 'dist'), { recursive: true })).filter((p) => /^(src|tasks)\/.*\.js$/.test(p));
  return compiled.filter((p) => !existsSync(join(repoRoot, p.replace(/\.js$/, '.ts'))) && !existsSync(join(repoRoot, p)));
}

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'dist', 'src', 'index.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first (CI does).');
  const orphans = await orphanedOutputs();
  if (orphans.length > 0) throw new Error(`dist/ holds output of sources that no longer exist (${orphans.slice(0, 5).join(', ')}): rebuild it, \`rm -rf dist && npx tsc -p tsconfig.json\`.`);
  dir = await mkdtemp(join(tmpdir(), 'dagwright-package-'));
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
  packed = (JSON.parse(stdout) as (typeof packed)[])[0];
  project = join(dir, 'consumer');
  await exec('mkdir', [project]);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // From the npm cache where it can (--prefer-offline): the registry is asked only for what the cache lacks.
  await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', join(dir, packed.filename)], {
    cwd: project,
    maxBuffer: 16 * 1024 * 1024,
  });
  await copyFile(join(repoRoot, 'test', 'fixtures', 'package-consumer', 'flow.js'), join(project, 'flow.js'));
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the compiled library, its CLI and images, and no tests, benchmarks or TypeScript sources', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/src/index.js');
    expect(paths).toContain('dist/src/index.d.ts');
    expect(paths).toContain('bin/dagwright.js');
    expect(paths.some((p) => p.startsWith('containers/'))).toBe(true);
    for (const p of paths) expect(p).not.toMatch(/^(test|bench|src|dist\/test|dist\/bench)\//);
  });

  it('installed, the PyTorch training task finds its Python script (tsc copies no .py into dist/)', async () => {
    expect(packed.files.map((f) => f.path)).toContain('tasks/mnist/pytorch/train_mnist.py');
    const probe = `console.log(require('dagwright/tasks/mnist/pytorch/train-task').trainingScript())`;
    const { stdout } = await exec(process.execPath, ['-e', probe], { cwd: project });
    expect(stdout.trim()).toBe(join(project, 'node_modules', 'dagwright', 'tasks', 'mnist', 'pytorch', 'train_mnist.py'));
    expect(existsSync(stdout.trim())).toBe(true);
  });

  it('installed in an empty project: the public entry and its documented subpaths load, internals stay behind the exports map', async () => {
    const probe = `const d = require('dagwright'); console.log(typeof d.runFlow, typeof d.Task);
      console.log(typeof require('dagwright/store').registerScheme, typeof require('dagwright/executors').DockerExecutor,
        typeof require('dagwright/tracking').searchRuns, typeof require('dagwright/runtime').createLogger, typeof require('dagwright/errors').LockedError);
      try { require('dagwright/dist/src/run'); } catch (e) { console.log(e.code); }`;
    const { stdout } = await exec(process.execPath, ['-e', probe], { cwd: project });
    expect(stdout.trim().split('\n')).toEqual(['function function', 'function function function function function', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);
    const { stdout: help } = await exec(join(project, 'node_modules', '.bin', 'dagwright'), ['--help'], { cwd: project });
    expect(help).toContain('usage: dagwright <command>');
  });

  it('runs a custom two-task flow in process; a second run finds it complete', async () => {
    const first = await consumerFlow(['--store', './data', '--executor', 'inprocess', '--words', 'w x y z']);
    expect(first.code, first.stderr).toBe(0);
    expect(await readFile(join(project, 'data', 'report.txt'), 'utf8')).toBe('4 words\n');
    const again = await consumerFlow(['--store', './data', '--executor', 'inprocess', '--words', 'w x y z']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('task started');
  });
});

describeDocker('the packed package with Docker', () => {
  it('runs the same flow with every step in a container', async () => {
    const result = await consumerFlow(['--store', './data-docker', '--executor', 'docker']);
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(join(project, 'data-docker', 'report.txt'), 'utf8')).toBe('3 words\n');
    const count = JSON.parse(await readFile(join(project, 'data-docker', 'count.json'), 'utf8')) as { pid: number };
    expect(count.pid).toBe(1); // the first process of its own container
    expect(result.stderr).toContain('"executor":"docker"');
  }, 120_000);
});
