/**
 * What Luigi's and Prefect's users rely on, through real runs with files on
 * disk: a failed run is a failed run whatever its root, requirements are
 * re-checked as the planner judged them, hooks see the task's own error,
 * retry settings do not silently override each other, and --rerun of a
 * chain's root does not walk the complete chain below it.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { LocalTarget, param, retry, run, Task, type TaskOutcome, UsageError } from '../src';
import { runFlowProcess } from './helpers/flow-process';

const logger = createLogger({ level: 'silent' });
let dir: string;
const ran: string[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-gaps-'));
  ran.length = 0;
});

describe('a run in which a task failed exits 1, whatever its root', () => {
  it('the report step runs after the failure and writes its report; the flow exits 1 (0 when nothing failed)', async () => {
    const failed = await runFlowProcess('test/fixtures/report-flow.ts', ['--executor', 'inprocess', '--store', dir, '--stock', 'broken']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'))).toEqual({ failed: 1 });
    expect(failed.stderr + failed.stdout).toMatch(/the source refused the query/);
    const other = await mkdtemp(join(tmpdir(), 'dagwright-gaps-ok-'));
    const ok = await runFlowProcess('test/fixtures/report-flow.ts', ['--executor', 'inprocess', '--store', other]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

/** Complete while its flag file says "yes": a requirement judged by its own complete(), not by outputs. */
class Approval extends Task<{ dir: string }> {
  static override params = { dir: param.string() };
  override async complete() {
    return (await readFile(join(this.params.dir, 'approved'), 'utf8').catch(() => '')) === 'yes';
  }
  async run() {
    ran.push('approval');
  }
}

/** Withdraws the approval while it runs (as another process might). */
class Withdraw extends Task<{ dir: string }> {
  static override params = { dir: param.string() };
  override output() {
    return new LocalTarget(join(this.params.dir, 'withdrawn'));
  }
  async run() {
    await writeFile(join(this.params.dir, 'approved'), 'no');
    await this.output().writeText('done');
  }
}

class Publish extends Task<{ dir: string }> {
  static override params = { dir: param.string() };
  override requires() {
    return [new Withdraw({ dir: this.params.dir }), new Approval({ dir: this.params.dir })];
  }
  override output() {
    return new LocalTarget(join(this.params.dir, 'published'));
  }
  async run() {
    ran.push('publish');
    await this.output().writeText('published');
  }
}

describe('requirements with their own complete()', () => {
  it('are asked again before the dependent starts: one that turned false after planning stops it', async () => {
    await writeFile(join(dir, 'approved'), 'yes');
    const summary = await run(new Publish({ dir }), { logger, workers: 1 });
    expect(summary.ok).toBe(false);
    expect(ran).toEqual([]);
    const publish = summary.tasks.find((t) => t.family === 'Publish')!;
    expect(publish.status).toBe('failed');
    expect(publish.error).toMatch(/unfulfilled requirement Approval_.*: its complete\(\) now returns false/);
  });
});

class QuotaExceeded extends Error {
  readonly retryable = false;
  constructor(readonly used: number) {
    super(`quota exceeded: ${used} of 100 calls used`);
  }
}

const failures: unknown[] = [];
class CallApi extends Task<{ dir: string }> {
  static override params = { dir: param.string() };
  override readonly retries = 2;
  override output() {
    return new LocalTarget(join(this.params.dir, 'api.json'));
  }
  override onFailure(error: Error, outcome: TaskOutcome) {
    failures.push({ error, attempts: outcome.attempts });
  }
  async run(): Promise<void> {
    throw new QuotaExceeded(100);
  }
}

class BothRetrySettings extends CallApi {
  override readonly retryPolicy = retry.fixed(3, 10);
}

describe('hooks and retry settings', () => {
  it('onFailure receives the task\'s own error, as retryIf does', async () => {
    failures.length = 0;
    const summary = await run(new CallApi({ dir }), { logger });
    expect(summary.ok).toBe(false);
    expect(failures).toHaveLength(1);
    const { error, attempts } = failures[0] as { error: Error; attempts: number };
    expect(error).toBeInstanceOf(QuotaExceeded);
    expect((error as QuotaExceeded).used).toBe(100);
    expect(attempts).toBe(1); // not retryable, so one attempt
  });

  it('a task with both retryPolicy and retries is refused before anything runs, naming it', async () => {
    const attempt = run([new Withdraw({ dir }), new BothRetrySettings({ dir })], { logger });
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(run(new BothRetrySettings({ dir }), { logger })).rejects.toThrow(/BothRetrySettings_.*: sets both retryPolicy and retries\/retryDelayMs; keep one/);
    await expect(readFile(join(dir, 'withdrawn'), 'utf8')).rejects.toThrow(/ENOENT/);
  });
});

/** A report of one day that needs the day before's, back to 2000: a "day before" chain. */
class DayReport extends Task<{ dir: string; day: string }> {
  static override params = { dir: param.string(), day: param.date() };
  override requires() {
    if (this.params.day <= '2000-01-01') return [];
    const before = new Date(Date.parse(`${this.params.day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    return new DayReport({ dir: this.params.dir, day: before });
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `report-${this.params.day}.txt`));
  }
  async run() {
    ran.push(this.params.day);
    await this.output().writeText(this.params.day);
  }
}

describe('--rerun of a chain', () => {
  it('forcing the root reruns the root alone: the complete days below are not walked', async () => {
    for (const day of ['2026-01-01', '2026-01-02']) await writeFile(join(dir, `report-${day}.txt`), day);
    const first = await run(new DayReport({ dir, day: '2026-01-03' }), { logger, maxTasks: 50 });
    expect(first.ok).toBe(true);
    expect(ran).toEqual(['2026-01-03']);
    ran.length = 0;
    const root = new DayReport({ dir, day: '2026-01-03' });
    const again = await run(root, { logger, maxTasks: 50, rerun: [root.id] });
    expect(again.ok).toBe(true);
    expect(ran).toEqual(['2026-01-03']);
    expect(again.tasks.map((t) => [t.id, t.status])).toEqual([
      [new DayReport({ dir, day: '2026-01-02' }).id, 'complete'],
      [root.id, 'ran'],
    ]);
  });
});
