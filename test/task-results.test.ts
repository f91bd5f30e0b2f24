/**
 * Task return values (Prefect's persisted results): `run()` returns a small
 * JSON value, kept under the task's id, and dependents read it with
 * `ctx.results.of(requirement)`, in the same run or a later one that skips
 * the task. In process, through real runs on a local store and a flow script.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { param, run, target, Task, type TaskContext } from '../src';
import { createLogger } from '../src/public/runtime';
import { runFlowProcess } from './helpers/flow-process';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dagwright-results-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const logger = createLogger({ level: 'silent' });
/** How often Score's run() ran in this process: a skipped task must not run again to hand its result on. */
const scoreRuns = new Map<string, number>();

/** Returns what it computed; with `returns: 'nothing'` it returns nothing, with 'huge' a value over the limit, with 'bigint' one that is not JSON. */
class Score extends Task<{ dir: string; returns?: string }> {
  static override params = { dir: param.string(), returns: param.string({ default: 'score' }) };
  override output() {
    return target(join(this.params.dir, 'score.txt'));
  }
  async run() {
    scoreRuns.set(this.params.dir, (scoreRuns.get(this.params.dir) ?? 0) + 1);
    await this.output().writeText('scored');
    if (this.params.returns === 'nothing') return;
    if (this.params.returns === 'huge') return { blob: 'x'.repeat(1024 * 1024) };
    if (this.params.returns === 'bigint') return { n: 1n } as never;
    return { accuracy: 0.97, labels: ['cat', 'dog'], run: scoreRuns.get(this.params.dir)! };
  }
}

class Publish extends Task<{ dir: string; returns?: string; edition?: number }> {
  static override params = { dir: param.string(), returns: param.string({ default: 'score' }), edition: param.int({ default: 1 }) };
  override requires() {
    return new Score({ dir: this.params.dir, returns: this.params.returns });
  }
  override output() {
    return target(join(this.params.dir, `published-${this.params.edition}.json`));
  }
  async run(ctx: TaskContext) {
    await this.output().writeJson(await ctx.results.of(this.requires()));
  }
}

describe('a task result', () => {
  it('is handed to a dependent in the same run (in memory when run() is given no store)', async () => {
    const dir = await tempDir();
    const summary = await run(new Publish({ dir }), { logger });
    expect(summary.ok).toBe(true);
    expect(JSON.parse(await readFile(join(dir, 'published-1.json'), 'utf8'))).toEqual({ accuracy: 0.97, labels: ['cat', 'dog'], run: 1 });
    expect(existsSync(join(dir, '_results'))).toBe(false);
  });

  it('kept in a store, is handed on by a later run that finds the task complete and skips it', async () => {
    const dir = await tempDir();
    expect((await run(new Publish({ dir }), { logger, results: dir })).ok).toBe(true);
    const scoreId = new Score({ dir, returns: 'score' }).id;
    const stored = JSON.parse(await readFile(join(dir, '_results', `${scoreId}.json`), 'utf8'));
    expect(stored).toMatchObject({ format: 'dagwright.result/1', taskId: scoreId, value: { accuracy: 0.97, run: 1 } });
    expect(await readdir(join(dir, '_results'))).toEqual([`${scoreId}.json`]); // written atomically: no temporary file left

    const later = await run(new Publish({ dir, edition: 2 }), { logger, results: dir });
    expect(later.tasks.map((t) => [t.family, t.status])).toEqual([
      ['Score', 'complete'],
      ['Publish', 'ran'],
    ]);
    expect(scoreRuns.get(dir)).toBe(1);
    expect(JSON.parse(await readFile(join(dir, 'published-2.json'), 'utf8'))).toMatchObject({ accuracy: 0.97, run: 1 });
  });

  it('over 1 MiB, or not JSON, fails the task with an error saying what to do, and keeps nothing', async () => {
    const dir = await tempDir();
    const huge = await run(new Score({ dir, returns: 'huge' }), { logger, results: dir });
    expect(huge.tasks[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(huge.tasks[0].error).toMatch(/run\(\) returned a 1048587-byte result; the limit is 1048576 bytes\. Write large data to an output target and return its URI\./);
    const other = await tempDir();
    const bigint = await run(new Score({ dir: other, returns: 'bigint' }), { logger, results: other });
    expect(bigint.tasks[0].error).toMatch(/run\(\) returned a value that is not JSON \(.*BigInt.*\)/);
    expect(existsSync(join(dir, '_results'))).toBe(false);
    expect(existsSync(join(other, '_results'))).toBe(false);
  });

  it('missing fails the dependent with an error that names the task and the way out', async () => {
    const dir = await tempDir();
    const summary = await run(new Publish({ dir, returns: 'nothing' }), { logger, results: dir });
    const failed = summary.tasks.find((t) => t.family === 'Publish')!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain(`task ${new Score({ dir, returns: 'nothing' }).id}: has no kept result: its run() returned nothing`);
  });

  it('is removed when the task runs again and returns nothing, so a stale value is never handed on', async () => {
    const dir = await tempDir();
    class Flip extends Task<{ dir: string }> {
      static override params = { dir: param.string() };
      static returnValue = true;
      override output() {
        return target(join(this.params.dir, 'flip.txt'));
      }
      async run() {
        await this.output().writeText('x');
        return Flip.returnValue ? 'first' : undefined;
      }
    }
    const flip = new Flip({ dir });
    await run(flip, { logger, results: dir });
    expect(existsSync(join(dir, '_results', `${flip.id}.json`))).toBe(true);
    Flip.returnValue = false;
    expect((await run(flip, { logger, results: dir, rerun: ['Flip'] })).ok).toBe(true);
    expect(existsSync(join(dir, '_results', `${flip.id}.json`))).toBe(false);
  });
});

describe('task results in a flow script', () => {
  it('are kept in the --store and read by the dependent, in this run and in a later one', async () => {
    const store = await tempDir();
    const first = await runFlowProcess('test/fixtures/results-flow.ts', ['--executor', 'inprocess', '--store', store, '--text', 'a flow with tremendous words']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(store, 'report-1.json'), 'utf8'))).toMatchObject({ words: 5, longest: 'tremendous' });
    const second = await runFlowProcess('test/fixtures/results-flow.ts', ['--executor', 'inprocess', '--store', store, '--text', 'a flow with tremendous words', '--edition', '2']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toContain('text:measured'); // Measure was complete: it did not run again
    expect(JSON.parse(await readFile(join(store, 'report-2.json'), 'utf8'))).toMatchObject({ words: 5, longest: 'tremendous' });
  }, 60_000);
});
