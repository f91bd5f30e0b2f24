import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDocker } from './helpers/docker';
import { repoRoot } from './helpers/flow-process';

/** `dagwright run ...` as a user types it, through the package's bin. */
function dagwright(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/dagwright.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const echoOf = async (store: string) => {
  const file = (await readdir(store)).find((f) => f.startsWith('echo-'))!;
  return JSON.parse(await readFile(join(store, file), 'utf8')) as Record<string, unknown>;
};
const echoArgs = (store: string) => ['run', 'test/fixtures/core-tasks.ts', 'Echo', '--store', store, '--offset', '-3', '--label', '-y z', '--token', 'tok-run-1234', '--sizes', '4,5'];

describe('dagwright run <module> <TaskClass>', () => {
  it('runs an exported task class with its parameters as options, and does nothing the second time', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-run-'));
    const first = await dagwright([...echoArgs(store), '--executor', 'inprocess']);
    expect(first.code, first.stderr).toBe(0);
    expect(await echoOf(store)).toMatchObject({ offset: -3, label: '-y z', sizes: [4, 5], host: hostname() });
    const again = await dagwright([...echoArgs(store), '--executor', 'inprocess']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to run');
  }, 60_000);

  it('an unknown class or module is a usage error naming what exists', async () => {
    const noClass = await dagwright(['run', 'test/fixtures/core-tasks.ts', 'Nope']);
    expect(noClass.code).toBe(2);
    expect(noClass.stderr).toContain('exports no task class "Nope" (its task classes: Echo, Incoming, Ingest, Corrupt, Loop, Part, Gather, Relay)');
    const noModule = await dagwright(['run', 'test/fixtures/missing.ts', 'Echo']);
    expect(noModule.code).toBe(2);
    expect(noModule.stderr).toContain('cannot load module test/fixtures/missing.ts: no such file');
    const help = await dagwright(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: dagwright run <module> <TaskClass>');
  }, 60_000);
});

describeDocker('dagwright run in Docker steps', () => {
  it('a step container re-enters `dagwright run` for its task', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-run-docker-'));
    const result = await dagwright([...echoArgs(store), '--executor', 'docker']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const echoed = await echoOf(store);
    expect(echoed).toMatchObject({ offset: -3, label: '-y z', argvHasToken: false });
    expect(echoed.host).not.toBe(hostname()); // a container's own host name
  }, 120_000);
});
