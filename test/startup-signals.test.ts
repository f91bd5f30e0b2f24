import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from './helpers/cron';
import { repoRoot } from './helpers/flow-process';

// The documented ways of starting a flow, stopped with SIGTERM the way a
// supervisor or `kill <pid>` does it: only the process that was started gets
// the signal. The flow must cancel (exit 143 where anyone can see it), publish
// nothing half-written and record the run as cancelled.

const fixture = 'test/fixtures/startup-signal-flow.ts';
const flowArgs = (store: string) => [fixture, '--store', store, '--executor', 'inprocess'];

/** The environment of a shell or cron job: nothing npm set for the test runner itself. */
function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
}

interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

const children: ChildProcess[] = [];
const flowPids: number[] = [];

function start(command: string, args: readonly string[]): Started {
  const child = spawn(command, args, { cwd: repoRoot, env: plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat !== undefined) return !/^\d+ \(.*\) Z /.test(stat);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the task is halfway through writing its output; returns the flow process's pid. */
async function halfWritten(store: string, run: Started): Promise<number> {
  await until(`the flow to write half of its output (output so far: ${run.output()})`, async () =>
    (await readFile(join(store, 'half-written.json'), 'utf8').catch(() => '')).includes('pid'),
  );
  const { pid } = JSON.parse(await readFile(join(store, 'half-written.json'), 'utf8')) as { pid: number };
  flowPids.push(pid);
  return pid;
}

/** Nothing half-written is visible and the history says cancelled. */
async function expectCancelledCleanly(store: string): Promise<void> {
  expect(await readdir(join(store, 'out')).catch(() => [])).toEqual([]);
  const records = (await readdir(join(store, '_runs'))).filter((f) => f.endsWith('.json'));
  expect(records).toHaveLength(1);
  const record = JSON.parse(await readFile(join(store, '_runs', records[0]!), 'utf8')) as { status: string; tasks: { status: string }[] };
  expect(record.status).toBe('cancelled');
  expect(record.tasks.map((t) => t.status)).not.toContain('ran');
}

let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-startup-signals-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of flowPids.splice(0)) if (await alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(store, { recursive: true, force: true });
});

describe('stopping a flow with SIGTERM', () => {
  it('npx ts-node: SIGTERM to npx alone stops the flow, which cancels and publishes nothing', async () => {
    const run = start('npx', ['ts-node', ...flowArgs(store)]);
    const flowPid = await halfWritten(store, run);
    expect(flowPid).not.toBe(run.child.pid); // npx is a separate process that does not pass the signal on

    run.child.kill('SIGTERM');
    await run.exited;
    await until('the flow process to end after npx was stopped', async () => !(await alive(flowPid)), 15_000);

    await expectCancelledCleanly(store);
    await until('the flow to finish logging', () => run.output().includes('run summary'), 5_000).catch(() => {});
    expect(run.output()).toContain('the process that started this flow (npx or npm) exited');
    expect(run.output()).toMatch(/"signal":"SIGTERM".*cancelling/);
  }, 90_000);

  it('node -r src/bootstrap/register (the cron form): SIGTERM reaches the flow, which exits 143', async () => {
    const run = start(process.execPath, ['-r', './src/bootstrap/register', ...flowArgs(store)]);
    const flowPid = await halfWritten(store, run);
    expect(flowPid).toBe(run.child.pid);

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 143, signal: null });
    await expectCancelledCleanly(store);
  }, 90_000);

  it('a flow started from a shell (no npm) keeps running when that shell goes away', async () => {
    // `nohup flow &` and the like: outliving the parent is what the user asked for.
    const shell = start('sh', ['-c', 'node "$@" & wait', 'sh', '-r', './src/bootstrap/register', ...flowArgs(store)]);
    const flowPid = await halfWritten(store, shell);
    shell.child.kill('SIGKILL');
    await shell.exited;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await alive(flowPid)).toBe(true);
    process.kill(flowPid, 'SIGTERM');
    await until('the flow to end on its own SIGTERM', async () => !(await alive(flowPid)), 15_000);
    await expectCancelledCleanly(store);
  }, 90_000);
});
