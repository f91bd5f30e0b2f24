import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeDocker } from './helpers/docker';
import { runFlowProcess } from './helpers/flow-process';

const flow = 'test/fixtures/core-flow.ts';

describeDocker('core features through real Docker steps', () => {
  const docker = ['--executor', 'docker', '--workers', '2'];

  const label = '-x =a b ünï "q" \'s\'';
  for (const [name, args, expected] of [
    ['negative numbers, leading dashes, =, spaces, quotes and unicode', ['--offset', '-2', '--label', label, '--sizes', '-1,0,3'], { offset: -2, label, sizes: [-1, 0, 3] }],
    ['an empty string and an empty list', ['--offset=-0', '--label=', '--sizes='], { offset: 0, label: '', sizes: [] }],
  ] as const) {
    it(`round-trips ${name} into the step's container exactly; a secret reaches it through the environment only`, async () => {
      const store = await mkdtemp(join(tmpdir(), 'dagwright-dcore-'));
      const secret = 'tok-docker-5e5e5e';
      const result = await runFlowProcess(flow, [...docker, '--store', store, '--mode', 'echo', ...args, '--token', secret, '--log-level', 'debug']);
      expect(result.code, result.stderr.slice(-3000)).toBe(0);
      const file = (await readdir(store)).find((f) => f.startsWith('echo-'))!;
      const echoed = JSON.parse(await readFile(join(store, file), 'utf8'));
      expect(echoed).toMatchObject({ ...expected, tokenLength: secret.length, argvHasToken: false });
      expect(echoed.host).not.toBe(hostname()); // ran in a container
      expect(result.stderr).not.toContain(secret);
      // The step's ctx.progress reached the driving run as events: its history has the last one, and no progress log lines.
      const names = (await readdir(join(store, '_runs'), { recursive: true })).map(String).filter((n) => n.endsWith('.json'));
      const histories = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(store, '_runs', n), 'utf8'))));
      const echoTask = histories.flatMap((h) => h.tasks ?? []).find((t: { id: string }) => t.id.startsWith('Echo_'));
      expect(echoTask.progress).toEqual({ done: 2, total: 2, note: 'all' });
      expect(result.logs.filter((l) => l.msg === 'progress')).toEqual([]);
    }, 120_000);
  }

  it('does not retry a step whose task error says it is not retryable', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-dfatal-'));
    const result = await runFlowProcess(flow, [...docker, '--store', store, '--mode', 'corrupt']);
    expect(result.code).toBe(1);
    const failed = (result.logs.find((l) => l.msg === 'run summary') as Record<string, any>).problems[0];
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, executor: 'docker' });
    expect(failed.error).toContain('bad magic number in input.idx');
  }, 120_000);

  it('gives a dynamically requested task its secret parameter without writing it to the request file or a command line', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-dsecret-'));
    const secret = 'tok-relayed-7c7c7c';
    const result = await runFlowProcess(flow, [...docker, '--store', store, '--mode', 'relay', '--token', secret, '--log-level', 'debug']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const echoed = JSON.parse(await readFile(join(store, 'relayed.txt'), 'utf8'));
    expect(echoed).toMatchObject({ offset: 7, label: 'relayed', tokenLength: secret.length, argvHasToken: false });
    expect(echoed.host).not.toBe(hostname());
    expect(result.stderr).not.toContain(secret);
    const written = await readdir(store, { recursive: true });
    for (const name of written.map(String)) {
      const text = await readFile(join(store, name), 'utf8').catch(() => '');
      expect(text, name).not.toContain(secret);
    }
  }, 180_000);

  it('runs dynamic requirements a container step asked for, each in its own container, then the step again', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-ddyn-'));
    const result = await runFlowProcess(flow, [...docker, '--store', store, '--mode', 'dynamic', '--count', '3']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const lines = (await readFile(join(store, 'gathered.txt'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['0', '1', '2']);
    expect(new Set([hostname(), ...lines.map((l) => l.split(' ')[1])]).size).toBe(4); // three containers of their own
    const summary = result.logs.find((l) => l.msg === 'run summary') as Record<string, any>;
    expect(summary.counts).toMatchObject({ ran: 4, failed: 0 });
    expect(summary.ran.every((r: { executor: string }) => r.executor === 'docker')).toBe(true);
    expect(result.logs.filter((l) => l.msg === 'task started' && String(l.taskId).startsWith('Gather_'))).toHaveLength(2);
  }, 180_000);
});
