import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type SchedulerEvent } from '../src/public/runtime';
import { ExternalTask, LocalTarget, param, retry, type RetryPolicy, run, Task, type TaskContext, type TaskOutcome, UsageError } from '../src';
import { nextRetryDelay } from '../src/retry-policy';

const logger = createLogger({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-policy-'));
  log.length = 0;
  running.clear();
  peak = {};
});

const log: string[] = [];
const running = new Map<string, number>();
let peak: Record<string, number> = {};

interface Spec {
  deps?: string[];
  pools?: Record<string, number>;
  priority?: number;
  delayMs?: number;
  failTimes?: number;
  afterFailures?: boolean;
  policy?: RetryPolicy;
  error?: () => Error;
}
let specs: Record<string, Spec> = {};
const attempts: Record<string, number> = {};
const hooks: string[] = [];
const seenFailed: Record<string, readonly string[]> = {};

/** Counts how many tasks holding each pool run at once. */
function enter(keys: string[]): void {
  for (const k of keys) {
    running.set(k, (running.get(k) ?? 0) + 1);
    peak[k] = Math.max(peak[k] ?? 0, running.get(k)!);
  }
}

class Job extends Task<{ name: string; dir: string }> {
  static override params = { name: param.string(), dir: param.string() };
  override readonly pools: Record<string, number> | undefined;
  override readonly priority: number;
  override readonly runsAfterFailedRequirements: boolean;
  override readonly retryPolicy: RetryPolicy | undefined;
  constructor(params: { name: string; dir: string }) {
    super(params);
    const s = specs[params.name] ?? {};
    this.pools = s.pools;
    this.priority = s.priority ?? 0;
    this.runsAfterFailedRequirements = s.afterFailures ?? false;
    this.retryPolicy = s.policy;
  }
  override requires() {
    return (specs[this.params.name]?.deps ?? []).map((name) => new Job({ name, dir: this.params.dir }));
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `${this.params.name}.txt`));
  }
  override onSuccess(outcome: TaskOutcome) {
    hooks.push(`success ${this.params.name} after ${outcome.attempts}`);
  }
  override onFailure(error: Error, outcome: TaskOutcome) {
    hooks.push(`failure ${this.params.name} after ${outcome.attempts}: ${error.message.split(': ').pop()}`);
  }
  async run(ctx: TaskContext) {
    const s = specs[this.params.name] ?? {};
    const keys = [...Object.keys(s.pools ?? {}), 'Job'];
    attempts[this.params.name] = (attempts[this.params.name] ?? 0) + 1;
    seenFailed[this.params.name] = ctx.failedRequirements;
    log.push(this.params.name);
    enter(keys);
    try {
      await sleep(s.delayMs ?? 5);
      if (attempts[this.params.name] <= (s.failTimes ?? 0)) throw s.error?.() ?? new Error(`${this.params.name} broke`);
      await this.output().writeText(`${this.params.name} ${Date.now()}\n`);
    } finally {
      for (const k of keys) running.set(k, running.get(k)! - 1);
    }
  }
}
const job = (name: string) => new Job({ name, dir });
const statusOf = (summary: Awaited<ReturnType<typeof run>>, name: string) => summary.tasks.find((t) => t.id === job(name).id)?.status;

function fanOut(n: number, spec: Spec): string[] {
  const names = Array.from({ length: n }, (_, i) => `leaf${i}`);
  specs = { root: { deps: names }, ...Object.fromEntries(names.map((name) => [name, { ...spec }])) };
  for (const k of Object.keys(attempts)) delete attempts[k];
  return names;
}

describe('pools, family limits and priority', () => {
  it('never runs more of a pool than its capacity, whatever the workers', async () => {
    fanOut(8, { pools: { gpu: 1 }, delayMs: 20 });
    const summary = await run(job('root'), { logger, workers: 8, pools: { gpu: 2 } });
    expect(summary.ok).toBe(true);
    expect(peak.gpu).toBe(2);
  });

  it('counts units: a task holding 2 of a 3-unit pool runs alone beside 1-unit ones', async () => {
    specs = { root: { deps: ['big', 'a', 'b'] }, big: { pools: { db: 2 }, delayMs: 40, priority: 5 }, a: { pools: { db: 1 }, delayMs: 40 }, b: { pools: { db: 1 }, delayMs: 40 } };
    await run(job('root'), { logger, workers: 4, pools: { db: 3 } });
    expect(peak.db).toBe(2); // big + one of a/b, never all three
  });

  it('limits a family independently of the workers', async () => {
    fanOut(6, { delayMs: 15 });
    await run(job('root'), { logger, workers: 6, familyLimits: { Job: 2 } });
    expect(peak.Job).toBe(2);
  });

  it('fails a task that needs more of a pool than it has, with the fix, and blocks its dependents', async () => {
    specs = { root: { deps: ['huge'] }, huge: { pools: { gpu: 4 } } };
    const summary = await run(job('root'), { logger, pools: { gpu: 1 } });
    expect(summary.tasks.find((t) => t.status === 'failed')?.error).toContain('needs 4 unit(s) of pool "gpu", which has 1. Raise the pool (--pool gpu=4)');
    expect(statusOf(summary, 'root')).toBe('blocked');
  });

  it('starts ready tasks by priority, higher first, ties in a stable order', async () => {
    specs = { root: { deps: ['low', 'mid1', 'high', 'mid2'] }, low: { priority: -1 }, mid1: { priority: 1 }, high: { priority: 9 }, mid2: { priority: 1 } };
    await run(job('root'), { logger, workers: 1 });
    expect(log).toEqual(['high', 'mid1', 'mid2', 'low', 'root']);
  });
});

describe('--rerun, unknown options', () => {
  it('runs the named family or task again with everything downstream, replacing the outputs', async () => {
    specs = { root: { deps: ['mid'] }, mid: { deps: ['leaf'] }, leaf: {}, other: {} };
    await run([job('root'), job('other')], { logger });
    const before = await readFile(join(dir, 'root.txt'), 'utf8');
    log.length = 0;
    await sleep(5);
    const summary = await run([job('root'), job('other')], { logger, rerun: [job('mid').id] });
    expect(summary.ok).toBe(true);
    expect(log).toEqual(['mid', 'root']);
    expect(await readFile(join(dir, 'root.txt'), 'utf8')).not.toBe(before);
  });

  it('a failed re-run leaves the old outputs in place', async () => {
    specs = { root: {} };
    await run(job('root'), { logger });
    const before = await readFile(join(dir, 'root.txt'), 'utf8');
    specs = { root: { failTimes: 99 } };
    for (const k of Object.keys(attempts)) delete attempts[k];
    const summary = await run(job('root'), { logger, rerun: ['Job'] });
    expect(summary.ok).toBe(false);
    expect(await readFile(join(dir, 'root.txt'), 'utf8')).toBe(before);
  });

  it('refuses an unknown run() option instead of ignoring it', async () => {
    await expect(run(job('root'), { logger, worker: 2 } as never)).rejects.toThrow(UsageError);
    await expect(run(job('root'), { logger, worker: 2 } as never)).rejects.toThrow('run(): unknown option(s) worker');
  });
});

class Upload extends ExternalTask<{ dir: string }> {
  static override params = { dir: param.string() };
  override output() {
    return new LocalTarget(join(this.params.dir, 'upload.csv'));
  }
}
class Ingest extends Task<{ dir: string }> {
  static override params = { dir: param.string() };
  override requires() {
    return new Upload({ dir: this.params.dir });
  }
  override output() {
    return new LocalTarget(join(this.params.dir, 'ingested.csv'));
  }
  async run() {
    await this.output().writeText(await this.input().readText());
  }
}

describe('external tasks', () => {
  it('reports missing external data (not a failure), blocks its dependents, never runs it', async () => {
    const summary = await run(new Ingest({ dir }), { logger });
    expect(summary.ok).toBe(false);
    const upload = summary.tasks.find((t) => t.id === new Upload({ dir }).id)!;
    expect(upload.status).toBe('missing');
    expect(upload.error).toContain(`missing external data: ${upload.id} (made outside this flow) lacks ${join(dir, 'upload.csv')}`);
    expect(summary.tasks.find((t) => t.id === new Ingest({ dir }).id)).toMatchObject({ status: 'blocked', blockedBy: upload.id });
    await writeFile(join(dir, 'upload.csv'), 'a,b\n');
    expect((await run(new Ingest({ dir }), { logger })).ok).toBe(true);
  });
});

describe('allow-failure steps, retry policy and hooks', () => {
  it('runs a task after its requirements whatever their outcome, and tells it which failed', async () => {
    specs = { report: { deps: ['ok', 'bad', 'after'], afterFailures: true }, ok: {}, bad: { failTimes: 9 }, after: { deps: ['bad'] } };
    const summary = await run(job('report'), { logger });
    expect(statusOf(summary, 'report')).toBe('ran');
    expect(statusOf(summary, 'after')).toBe('blocked');
    expect([...seenFailed.report].sort()).toEqual([job('bad').id, job('after').id].sort());
    expect(summary.tasks.find((t) => t.id === job('report').id)?.failedRequirements).toHaveLength(2);
  });

  it('waits the listed delays, and asks the predicate', async () => {
    specs = { flaky: { failTimes: 2, policy: { delaysMs: [10, 30, 50] } } };
    for (const k of Object.keys(attempts)) delete attempts[k];
    const events: SchedulerEvent[] = [];
    const summary = await run(job('flaky'), { logger, onEvent: (e) => events.push(e) });
    expect(summary.ok).toBe(true);
    expect(events.filter((e) => e.type === 'task:retry').map((e) => (e.type === 'task:retry' ? e.delayMs : 0))).toEqual([10, 30]);

    specs = { picky: { failTimes: 5, policy: { delaysMs: [1, 1, 1], retryIf: (err) => !err.message.includes('fatal') }, error: () => new Error('fatal disk') } };
    expect((await run(job('picky'), { logger })).tasks[0]).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('does not retry an error whose class says retryable = false', async () => {
    class CorruptInput extends Error {
      readonly retryable = false;
    }
    specs = { parse: { failTimes: 5, policy: retry.fixed(3, 1), error: () => new CorruptInput('bad magic number') } };
    const summary = await run(job('parse'), { logger });
    expect(summary.tasks[0]).toMatchObject({ status: 'failed', attempts: 1, error: expect.stringContaining('bad magic number') });
  });

  it('keeps jittered delays within the factor', () => {
    const policy = { delaysMs: [1000], jitter: 0.2 };
    expect(nextRetryDelay(policy, 1, new Error('x'), () => 0)).toBe(800);
    expect(nextRetryDelay(policy, 1, new Error('x'), () => 1)).toBe(1200);
    expect(nextRetryDelay(policy, 2, new Error('x'))).toBeUndefined();
  });

  it('calls onSuccess and onFailure once, not per attempt', async () => {
    hooks.length = 0;
    specs = { root: { deps: ['flaky', 'broken'] }, flaky: { failTimes: 1, policy: retry.fixed(2, 1) }, broken: { failTimes: 9, policy: retry.fixed(2, 1) } };
    for (const k of Object.keys(attempts)) delete attempts[k];
    await run(job('root'), { logger });
    expect(hooks.sort()).toEqual(['failure broken after 3: broken broke', 'success flaky after 2']);
  });
});

/** Finds what it needs while running: a dynamic requirement per item of a list it reads. */
class Part extends Task<{ dir: string; n: number }> {
  static override params = { dir: param.string(), n: param.int() };
  override output() {
    return new LocalTarget(join(this.params.dir, `part-${this.params.n}.txt`));
  }
  async run() {
    log.push(`part ${this.params.n}`);
    await this.output().writeText(`${this.params.n * 10}\n`);
  }
}
class Gather extends Task<{ dir: string; count: number }> {
  static override params = { dir: param.string(), count: param.int() };
  override output() {
    return new LocalTarget(join(this.params.dir, 'gathered.txt'));
  }
  async run(ctx: TaskContext) {
    log.push('gather');
    const parts = await ctx.require(Array.from({ length: this.params.count }, (_, n) => new Part({ dir: this.params.dir, n })));
    const texts = await Promise.all(parts.map((p) => p.readText()));
    await this.output().writeText(texts.join(''));
  }
}

describe('dynamic requirements', () => {
  it('runs what run() asked for, then the task again, on a single worker (the slot is released while it waits)', async () => {
    const summary = await run(new Gather({ dir, count: 3 }), { logger, workers: 1 });
    expect(summary.ok).toBe(true);
    expect(log).toEqual(['gather', 'part 0', 'part 1', 'part 2', 'gather']);
    expect(await readFile(join(dir, 'gathered.txt'), 'utf8')).toBe('0\n10\n20\n');
    expect(summary.tasks.map((t) => t.status)).toEqual(['ran', 'ran', 'ran', 'ran']);
    log.length = 0;
    expect((await run(new Gather({ dir, count: 3 }), { logger })).tasks.map((t) => t.status)).toEqual(['complete']);
    expect(log).toEqual([]);
  });

  it('blocks the task when a dynamic requirement fails', async () => {
    class Broken extends Part {
      override async run(): Promise<void> {
        throw new Error('part broke');
      }
    }
    class Needy extends Gather {
      override async run(ctx: TaskContext) {
        await ctx.require(new Broken({ dir: this.params.dir, n: 1 }));
      }
    }
    const summary = await run(new Needy({ dir, count: 1 }), { logger });
    expect(summary.tasks.map((t) => t.status).sort()).toEqual(['blocked', 'failed']);
  });
});
