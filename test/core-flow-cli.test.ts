import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runFlowProcess } from './helpers/flow-process';

const flow = 'test/fixtures/core-flow.ts';
const inProcess = ['--executor', 'inprocess'];
let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-core-'));
});

const echoed = async () => {
  const file = (await readdir(store)).find((f) => f.startsWith('echo-'))!;
  return JSON.parse(await readFile(join(store, file), 'utf8')) as Record<string, unknown>;
};

describe('core flow command line', () => {
  it('takes negative numbers and dash-leading values as values', async () => {
    const result = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'echo', '--offset', '-2', '--label', '-x', '--sizes', '-1,2']);
    expect(result.code).toBe(0);
    expect(await echoed()).toMatchObject({ offset: -2, label: '-x', sizes: [-1, 2] });
  });

  it('--epochs -1 is a range error naming the option; an option without a value says so; both exit 2', async () => {
    const negative = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'echo', '--epochs', '-1']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('parameter "epochs" got "-1"; expected an integer >= 1. Pass --epochs <an integer >= 1>.');
    expect(negative.stderr).not.toContain('ambiguous');
    const missing = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'echo', '--epochs']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('option --epochs lacks a value; expected an integer >= 1');
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a cycle found while planning lazily is a usage error: exit 2, the cycle named, nothing written', async () => {
    const result = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'cycle']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the task graph has a cycle: Loop_');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(store)).toEqual([]);
  });

  it('does not retry an error that says it is not retryable', async () => {
    const result = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'corrupt']);
    expect(result.code).toBe(1);
    expect((result.logs.find((l) => l.msg === 'run summary') as Record<string, any>).problems[0]).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('exits 66 when external data is missing, and 0 once it is there', async () => {
    const missing = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'external']);
    expect(missing.code).toBe(66);
    const summary = missing.logs.find((l) => l.msg === 'run summary') as Record<string, any>;
    expect(summary.counts).toMatchObject({ missing: 1, blocked: 1, failed: 0 });
    expect(missing.stderr).toContain('missing external data');
    await writeFile(join(store, 'incoming.csv'), 'a,b\n');
    expect((await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'external'])).code).toBe(0);
  });

  it('keeps a secret parameter out of every log line, the run record and the task id', async () => {
    const secret = 'tok-9f8e7d6c5b4a';
    const result = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'echo', '--token', secret, '--log-level', 'debug']);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain(secret);
    expect(result.stderr).toContain('using token [redacted]');
    expect(await echoed()).toMatchObject({ tokenLength: secret.length });
    // Nothing written anywhere in the store (outputs, run records, task logs, locks) holds it, in a name or in content.
    const files = (await readdir(store, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(files.length).toBeGreaterThan(1);
    for (const e of files) {
      const path = join(e.parentPath, e.name);
      expect(path).not.toContain(secret);
      expect(await readFile(path, 'utf8')).not.toContain(secret);
    }
  });

  it('the secret may come from its environment variable instead of the command line', async () => {
    const result = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'echo'], { DAGWRIGHT_SECRET_TOKEN: 'from-the-env-123' });
    expect(result.code).toBe(0);
    expect(await echoed()).toMatchObject({ tokenLength: 'from-the-env-123'.length });
  });

  it("or from the file DAGWRIGHT_SECRET_TOKEN_FILE names (Docker's _FILE convention, how Swarm steps get it); an unreadable one is a usage error naming it", async () => {
    const file = join(store, '..', `token-${process.pid}.txt`);
    await writeFile(file, 'from-a-file-4567\n');
    try {
      const result = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'echo'], { DAGWRIGHT_SECRET_TOKEN_FILE: file });
      expect(result.code, result.stderr).toBe(0);
      expect(await echoed()).toMatchObject({ tokenLength: 'from-a-file-4567'.length }); // the trailing newline dropped
    } finally {
      await rm(file, { force: true });
    }
    const missing = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'echo'], { DAGWRIGHT_SECRET_TOKEN_FILE: file });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`DAGWRIGHT_SECRET_TOKEN_FILE=${file}`);
    expect(missing.stderr).toContain('ENOENT');
    expect(missing.stderr).not.toMatch(/^\s*at /m);
  });

  it('--rerun runs a complete task again; --pool and --family-limit are checked', async () => {
    expect((await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'dynamic'])).code).toBe(0);
    const again = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'dynamic', '--rerun', 'Gather', '--pool', 'gpu=1', '--family-limit', 'Part=1']);
    expect(again.code).toBe(0);
    expect((again.logs.find((l) => l.msg === 'run summary') as Record<string, any>).counts).toMatchObject({ ran: 1 });
    const bad = await runFlowProcess(flow, [...inProcess, '--store', store, '--mode', 'dynamic', '--pool', 'gpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--pool got "gpu"; expected NAME=N with N an integer >= 1');
  });
});
