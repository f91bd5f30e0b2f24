import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseStore } from '../src';
import { RunHistory } from '../src/public/store';
import { type FlowResult, runFlowProcess, startFlow } from './helpers/flow-process';

const flow = 'test/fixtures/steps-flow.ts';
// These tests are about the scheduler and the command line: keep steps in this process.
const inProcess = ['--executor', 'inprocess'];
let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-cli-'));
});

const ranLog = async () => (await readFile(join(store, 'ran.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
const outputs = async () => (await readdir(store)).filter((f) => f.endsWith('.txt')).sort();
const summaryOf = (result: FlowResult) => result.logs.find((l) => l.msg === 'run summary') as Record<string, any>;

/** Resolves once `ran.log` names `count` steps: the flow reached that point. */
async function waitForSteps(count: number): Promise<void> {
  const deadline = Date.now() + 50_000;
  while ((await ranLog()).length < count) {
    if (Date.now() > deadline) throw new Error(`the flow never started ${count} step(s)`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('flow command line', () => {
  it('runs a flow, exits 0, logs JSON lines with task ids, and does nothing the second time', async () => {
    const first = await runFlowProcess(flow, [...inProcess, '--store', store, '--workers', '2']);
    expect(first.code).toBe(0);
    expect(await outputs()).toEqual(['left.txt', 'middle.txt', 'side.txt', 'top.txt']);
    const started = first.logs.filter((l) => l.msg === 'task started');
    expect(started).toHaveLength(5);
    for (const line of started) expect(line.taskId).toEqual(expect.stringMatching(/^(Step|All)_/));
    expect(summaryOf(first).counts).toMatchObject({ ran: 5, failed: 0 });

    const second = await runFlowProcess(flow, [...inProcess, '--store', store]);
    expect(second.code).toBe(0);
    expect(summaryOf(second).counts).toMatchObject({ ran: 0, complete: 1 });
    expect(await ranLog()).toHaveLength(4);
  });

  it('exits 1 when a task fails, keeping finished outputs, and the next run does only the rest', async () => {
    const failed = await runFlowProcess(flow, [...inProcess, '--store', store, '--fail-at', 'middle', '--workers', '1']);
    expect(failed.code).toBe(1);
    const summary = summaryOf(failed);
    expect(summary.counts).toMatchObject({ ran: 2, failed: 1, blocked: 2 });
    expect(summary.problems.find((p: any) => p.status === 'failed').error).toContain('middle failed on purpose');
    expect(await outputs()).toEqual(['left.txt', 'side.txt']);

    const resumed = await runFlowProcess(flow, [...inProcess, '--store', store]);
    expect(resumed.code).toBe(0);
    expect(await ranLog()).toEqual(expect.arrayContaining(['left', 'side', 'middle', 'middle', 'top']));
    expect((await ranLog()).filter((n) => n === 'left')).toHaveLength(1);
  });

  it('exits 2 on a bad option or parameter value, naming it, before anything runs', async () => {
    const bad = await runFlowProcess(flow, [...inProcess, '--store', store, '--slow-ms', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('parameter "slowMs" got "soon"; expected an integer >= 0. Pass --slow-ms');
    const unknown = await runFlowProcess(flow, [...inProcess, '--store', store, '--colour', 'red']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--colour'");
    const workers = await runFlowProcess(flow, [...inProcess, '--store', store, '--workers', '0']);
    expect(workers.code).toBe(2);
    expect(workers.stderr).toContain('--workers got "0"; expected an integer >= 1');
    expect(await ranLog()).toEqual([]);
  });

  it('--run-name names the run in its history record; a name over one line is a usage error that writes nothing', async () => {
    const named = await runFlowProcess(flow, [...inProcess, '--store', store, '--run-name', 'nightly <b>backfill</b>']);
    expect(named.code, named.stderr).toBe(0);
    const [record] = await RunHistory.forStore(parseStore(store)).list(10);
    expect(record).toMatchObject({ runName: 'nightly <b>backfill</b>', status: 'succeeded' });
    const bad = await runFlowProcess(flow, [...inProcess, '--store', store, '--run-name', 'two\nlines']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--run-name got "two\\nlines"; expected one line of 1 to 250 characters.');
    expect(await RunHistory.forStore(parseStore(store)).list(10)).toHaveLength(1);
  });

  it('--dry-run says what would run and why, and runs nothing; --graph prints DOT', async () => {
    const dry = await runFlowProcess(flow, [...inProcess, '--store', store, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: 5 task(s) would run, 0 already complete');
    expect(dry.stdout).toMatch(new RegExp(`would run Step_left_\\S+: missing ${join(store, 'left.txt')}`));
    const graph = await runFlowProcess(flow, [...inProcess, '--store', store, '--graph']);
    expect(graph.code).toBe(0);
    expect(graph.stdout).toMatch(/^digraph dagwright \{/);
    expect(graph.stdout.match(/ -> /g)).toHaveLength(4);
    expect(await ranLog()).toEqual([]);
  });

  it('--help lists the flow parameters with defaults, the standard options and exit codes', async () => {
    const help = await runFlowProcess(flow, [...inProcess, '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--slow-ms <value>\s+an integer >= 0 \(default: 0\)/);
    expect(help.stdout).toMatch(/--workers <value>/);
    expect(help.stdout).toContain('exit codes: 0 complete, 1 a task failed, 2 usage or configuration error');
  });

  it('SIGTERM cancels: exit 143, running tasks aborted, nothing half-written visible, summary says cancelled', async () => {
    const { child, done } = startFlow(flow, [...inProcess, '--store', store, '--workers', '1', '--slow-ms', '3000']);
    await waitForSteps(1);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(143);
    expect(summaryOf(result).cancelled).toBe(true);
    expect(summaryOf(result).counts.cancelled).toBe(5);
    expect(await outputs()).toEqual([]);
    expect((await readdir(store)).filter((f) => f.includes('dagwright-tmp'))).toEqual([]);
  });

  it('a run killed with SIGKILL mid-write leaves no partial output; the next run does only the unfinished work', async () => {
    const { child, done } = startFlow(flow, [...inProcess, '--store', store, '--workers', '1', '--slow-ms', '1500']);
    // Wait until the second task started: the first has finished and published its output.
    await waitForSteps(2);
    child.kill('SIGKILL');
    await done;
    const finished = await outputs();
    expect(finished).toHaveLength(1);
    for (const file of finished) expect(await readFile(join(store, file), 'utf8')).toMatch(/part 4\n$/);

    const resumed = await runFlowProcess(flow, [...inProcess, '--store', store]);
    expect(resumed.code).toBe(0);
    expect(await outputs()).toEqual(['left.txt', 'middle.txt', 'side.txt', 'top.txt']);
    const log = await ranLog();
    expect(log.filter((n) => n === finished[0].replace('.txt', ''))).toHaveLength(1);
  });
});
