/**
 * Nothing half-written, nothing orphaned, with a real engine: a flow killed
 * with SIGKILL while a step runs leaves no container running (the reaper
 * removes them within seconds; without it, the next run does before it plans),
 * no partial output at a ContainerTask's output path, and the re-run writes
 * the full output.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createDockerClient, Labels } from '../src/executors/docker';
import { describeDocker } from './helpers/docker';
import { childrenOf, type FlowResult, runFlowProcess, startFlow } from './helpers/flow-process';

const docker = createDockerClient();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Containers owned by the flow process `pid` (running ones unless `all`). */
const containersOf = (pid: number, all = false) => docker.listContainers({ all, filters: JSON.stringify({ label: [`${Labels.ownerPid}=${pid}`] }) });

/** Polls until `check` holds; returns the milliseconds it took, or throws after `timeoutMs`. */
async function within(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(100);
  }
}

const removedOrphan = (l: { msg?: unknown }) => String(l.msg).includes('removed 1 container(s) that a killed flow left running');

/** Starts a step in a fresh store, then kills the flow and its reaper (as a kill of its process group would): one orphaned container left running. */
async function orphanAContainer(): Promise<{ pid: number; store: string }> {
  const store = await mkdtemp(join(tmpdir(), 'dagwright-kill9-noreaper-'));
  const { child, done } = startFlow('test/fixtures/container-flow.ts', ['--store', store, '--executor', 'docker', '--lines', '25', '--delay-ms', '1000']);
  await within(60_000, 'the step container runs', async () => (await containersOf(child.pid!)).length > 0);
  for (const pid of childrenOf(child.pid!)) process.kill(pid, 'SIGKILL');
  child.kill('SIGKILL');
  await done;
  await sleep(2500);
  expect(await containersOf(child.pid!)).toHaveLength(1); // orphaned, still running
  return { pid: child.pid!, store };
}

/**
 * Orphans a container, then runs `next`, until `next` is the run that removed it (at most 3 times):
 * any Docker flow prunes every dead flow's orphans before it plans, so another test file's flow
 * running at the same time may get there first.
 */
async function removedByNextRun(next: (orphanStore: string) => Promise<FlowResult>): Promise<{ result: FlowResult; pid: number; store: string }> {
  for (let attempt = 1; ; attempt++) {
    const { pid, store } = await orphanAContainer();
    const result = await next(store);
    if (result.logs.some(removedOrphan) || attempt === 3) return { result, pid, store };
  }
}

describeDocker('a flow killed with SIGKILL (Docker executor)', () => {
  it('a ContainerTask: its container stops within seconds, nothing is at the output path, the re-run writes it whole', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-kill9-ct-'));
    const { child, done } = startFlow('test/fixtures/container-flow.ts', ['--store', store, '--executor', 'docker', '--lines', '30', '--delay-ms', '200']);
    await within(60_000, 'the step container runs', async () => (await containersOf(child.pid!)).length > 0);
    await sleep(1500); // a few lines written
    child.kill('SIGKILL');
    await done;
    const tookMs = await within(10_000, 'no container of the killed flow is left', async () => (await containersOf(child.pid!, true)).length === 0);
    expect(tookMs).toBeLessThan(10_000);
    expect(await readdir(store)).not.toContain('lines-30.txt');

    const rerun = await runFlowProcess('test/fixtures/container-flow.ts', ['--store', store, '--executor', 'docker', '--lines', '30', '--delay-ms', '0']);
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    const text = await readFile(join(store, 'lines-30.txt'), 'utf8');
    expect(text.trim().split('\n')).toHaveLength(30);
    // Staging folders are gone: only the output (and the run's own state) is left.
    expect((await readdir(store)).filter((f) => f.includes('dagwright-tmp'))).toEqual([]);
  });

  it('a TypeScript step: its container stops within seconds and the re-run completes every output', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-kill9-ts-'));
    const { child, done } = startFlow('test/fixtures/steps-flow.ts', ['--store', store, '--slow-ms', '60000', '--executor', 'docker', '--workers', '2']);
    await within(60_000, 'a step container runs', async () => (await containersOf(child.pid!)).length > 0);
    await sleep(500);
    child.kill('SIGKILL');
    await done;
    await within(10_000, 'no container of the killed flow is left', async () => (await containersOf(child.pid!, true)).length === 0);

    const rerun = await runFlowProcess('test/fixtures/steps-flow.ts', ['--store', store, '--executor', 'docker', '--workers', '2']);
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    for (const name of ['left', 'middle', 'top', 'side']) {
      expect((await readFile(join(store, `${name}.txt`), 'utf8')).trim().split('\n')).toHaveLength(5);
    }
  });

  it('when the reaper died too, the next run removes the orphan before it plans', async () => {
    const { result: rerun, pid, store } = await removedByNextRun((orphanStore) => runFlowProcess('test/fixtures/container-flow.ts', ['--store', orphanStore, '--executor', 'docker', '--lines', '25', '--delay-ms', '0']));
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    expect(rerun.logs.some(removedOrphan)).toBe(true);
    expect(await containersOf(pid, true)).toEqual([]);
    expect((await readFile(join(store, 'lines-25.txt'), 'utf8')).trim().split('\n')).toHaveLength(25);
  });

  it('a run with nothing to do (--executor auto) still removes orphans of killed flows before it plans', async () => {
    const done3 = await mkdtemp(join(tmpdir(), 'dagwright-noop-'));
    const first = await runFlowProcess('test/fixtures/container-flow.ts', ['--store', done3, '--lines', '3', '--delay-ms', '0']);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const { result: noop, pid } = await removedByNextRun(() => runFlowProcess('test/fixtures/container-flow.ts', ['--store', done3, '--lines', '3', '--delay-ms', '0']));
    expect(noop.code, noop.stderr.slice(-2000)).toBe(0);
    expect(noop.logs.find((l) => l.msg === 'run summary')?.counts).toMatchObject({ ran: 0 });
    expect(noop.logs.some(removedOrphan)).toBe(true);
    expect(await containersOf(pid, true)).toEqual([]);
  });
});
