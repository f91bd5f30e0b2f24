/**
 * A task whose `output()` is bad, through a real flow process (the path the
 * in-process scheduler tests skip: the flow lock, the run-start sweep of
 * dead writers' leftovers, the run record). An `output()` that throws or
 * returns a number fails that task alone: the independent branch runs, the
 * run is recorded, exit 1, no stack trace. A store path with `..` is a usage
 * error: exit 2, nothing written.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlowProcess } from './helpers/flow-process';

const stackLine = /^\s+at .+:\d+:\d+\)?$/m;
const flow = 'test/fixtures/bad-output-flow.ts';
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-bad-output-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (mode: string, store: string) => runFlowProcess(flow, ['--mode', mode, '--store', store, '--executor', 'inprocess', '--workers', '1']);

describe('a task with a bad output() in a flow run', () => {
  for (const [mode, says] of [
    ['throws', 'output() threw: no path configured for bad output'],
    ['number', 'output() must return a Target, an array of Targets or a record of Targets, but returned number 42'],
  ] as const) {
    it(`output() that ${mode === 'throws' ? 'throws' : 'returns a number'}: that task fails, the independent branch runs, the run is recorded, exit 1`, async () => {
      const store = join(dir, mode);
      const result = await run(mode, store);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).not.toMatch(stackLine);
      const summary = result.logs.find((l) => Array.isArray(l.problems)) as { problems: { family: string; status: string; error?: string }[] };
      expect(summary.problems.find((p) => p.family === 'Bad')).toMatchObject({ status: 'failed', error: expect.stringContaining(says) });
      expect(summary.problems.find((p) => p.family === 'Root')).toMatchObject({ status: 'blocked' });
      expect(await readFile(join(store, 'good.txt'), 'utf8')).toBe('good\n');
      const runs = await readdir(join(store, '_run-data'));
      expect(runs).toHaveLength(1);
    });
  }

  it('a store path with "..": a usage error naming the task and the path, exit 2, nothing written', async () => {
    const store = join(dir, 'dotdot', 'store');
    const result = await run('dotdot', store);
    expect(result.code, result.stderr).toBe(2);
    const messages = result.logs.map((l) => String(l.msg));
    expect(messages).toContainEqual(expect.stringMatching(/^Bad_\S+: output\(\) names a path the store refuses: .*"\.\.\/escaped\.txt" must not contain "\.\."/));
    expect(result.stderr).not.toMatch(stackLine);
    expect(await readdir(join(dir, 'dotdot')).catch(() => [])).toEqual([]);
  });
});
