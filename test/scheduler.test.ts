import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type SchedulerEvent } from '../src/public/runtime';
import { LocalTarget, param, run, type RunSummary, Task, type TaskContext } from '../src';

const logger = createLogger({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-sched-'));
});

/** Behaviour of each test task by name: what it requires, how it fails, how long it takes. */
interface Script {
  deps?: string[];
  failTimes?: number;
  delayMs?: number;
  skipWrite?: boolean;
  retries?: number;
  timeoutMs?: number;
}
let script: Record<string, Script> = {};
let attempts: Record<string, number> = {};
let completeCalls: Record<string, number> = {};
let running = 0;
let maxRunning = 0;

class Step extends Task<{ name: string; dir: string }> {
  static override params = { name: param.string(), dir: param.string() };
  override readonly retries: number;
  override readonly timeoutMs: number | undefined;
  override readonly retryDelayMs = 20;
  constructor(params: { name: string; dir: string }) {
    super(params);
    this.retries = script[params.name]?.retries ?? 0;
    this.timeoutMs = script[params.name]?.timeoutMs;
  }
  override requires() {
    return (script[this.params.name]?.deps ?? []).map((name) => new Step({ name, dir: this.params.dir }));
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `${this.params.name}.txt`));
  }
  override async complete() {
    completeCalls[this.params.name] = (completeCalls[this.params.name] ?? 0) + 1;
    return super.complete();
  }
  async run(ctx: TaskContext) {
    const s = script[this.params.name] ?? {};
    attempts[this.params.name] = (attempts[this.params.name] ?? 0) + 1;
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      if (s.delayMs) await sleep(s.delayMs, undefined, { signal: ctx.signal });
      if (attempts[this.params.name] <= (s.failTimes ?? 0)) throw new Error(`${this.params.name} broke`);
      if (!s.skipWrite) await this.output().writeText(`${this.params.name} attempt ${ctx.attempt}\n`);
    } finally {
      running--;
    }
  }
}

const step = (name: string) => new Step({ name, dir });
const statusOf = (summary: RunSummary, name: string) => summary.tasks.find((t) => t.id === step(name).id)?.status;

beforeEach(() => {
  script = {};
  attempts = {};
  completeCalls = {};
  running = 0;
  maxRunning = 0;
});

describe('scheduler', () => {
  it('runs dependencies first, and a second run of a finished flow runs nothing', async () => {
    script = { top: { deps: ['a', 'b'] }, a: { deps: ['c'] }, b: { deps: ['c'] }, c: {} };
    const first = await run(step('top'), { logger });
    expect(first.ok).toBe(true);
    expect(first.tasks.map((t) => t.status)).toEqual(['ran', 'ran', 'ran', 'ran']);
    expect(first.tasks[0].id).toBe(step('c').id);
    expect(attempts).toEqual({ c: 1, a: 1, b: 1, top: 1 });

    const second = await run(step('top'), { logger });
    expect(second.ok).toBe(true);
    expect(second.tasks.map((t) => t.status)).toEqual(['complete']);
    expect(attempts).toEqual({ c: 1, a: 1, b: 1, top: 1 });
  });

  it('checks each task once per run, even when shared', async () => {
    script = { top: { deps: ['a', 'b'] }, a: { deps: ['c'] }, b: { deps: ['c'] }, c: {} };
    await run(step('top'), { logger });
    // Once while planning, once after running to verify outputs, and once more before each dependent starts (as Luigi's worker does).
    expect(completeCalls).toEqual({ top: 2, a: 3, b: 3, c: 4 });
  });

  it('resumes: only unfinished work runs after a failure', async () => {
    script = { top: { deps: ['a', 'b'] }, a: {}, b: { failTimes: 1 } };
    const first = await run(step('top'), { logger });
    expect(first.ok).toBe(false);
    expect(statusOf(first, 'a')).toBe('ran');
    expect(statusOf(first, 'b')).toBe('failed');
    expect(statusOf(first, 'top')).toBe('blocked');
    const second = await run(step('top'), { logger });
    expect(second.ok).toBe(true);
    expect(attempts).toEqual({ a: 1, b: 2, top: 1 });
  });

  it('blocks only the dependents of a failure; independent branches carry on', async () => {
    script = { root: { deps: ['left', 'right'] }, left: { deps: ['bad'] }, bad: { failTimes: 9 }, right: { deps: ['good'] }, good: {} };
    const summary = await run(step('root'), { logger, workers: 1 });
    expect(statusOf(summary, 'bad')).toBe('failed');
    expect(statusOf(summary, 'left')).toBe('blocked');
    expect(statusOf(summary, 'root')).toBe('blocked');
    expect(statusOf(summary, 'good')).toBe('ran');
    expect(statusOf(summary, 'right')).toBe('ran');
    const bad = summary.tasks.find((t) => t.status === 'failed')!;
    expect(bad.error).toContain('bad broke');
    expect(summary.tasks.find((t) => t.id === step('left').id)?.blockedBy).toBe(step('bad').id);
  });

  it('retries with exponential backoff and reports each retry', async () => {
    script = { flaky: { failTimes: 2, retries: 3 } };
    const events: SchedulerEvent[] = [];
    const summary = await run(step('flaky'), { logger, onEvent: (e) => events.push(e) });
    expect(summary.ok).toBe(true);
    expect(attempts.flaky).toBe(3);
    const retries = events.filter((e) => e.type === 'task:retry');
    expect(retries.map((e) => (e.type === 'task:retry' ? e.delayMs : 0))).toEqual([20, 40]);
    expect(summary.tasks[0].attempts).toBe(3);
    expect(summary.tasks[0].durationMs).toBeGreaterThanOrEqual(60);
  });

  it('gives up after the last retry', async () => {
    script = { broken: { failTimes: 9, retries: 2 } };
    const summary = await run(step('broken'), { logger });
    expect(summary.ok).toBe(false);
    expect(attempts.broken).toBe(3);
    expect(summary.tasks[0]).toMatchObject({ status: 'failed', attempts: 3, error: expect.stringContaining('broken broke') });
  });

  it('fails an attempt that passes its timeout, and retries it', async () => {
    script = { slow: { delayMs: 5_000, timeoutMs: 50, retries: 1 } };
    const started = Date.now();
    const summary = await run(step('slow'), { logger });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(attempts.slow).toBe(2);
    expect(summary.tasks[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('timed out after 50 ms') });
  });

  it('fails a task that "succeeds" without writing its outputs', async () => {
    script = { lazy: { skipWrite: true } };
    const summary = await run(step('lazy'), { logger });
    expect(summary.tasks[0].status).toBe('failed');
    expect(summary.tasks[0].error).toContain(`missing outputs: ${join(dir, 'lazy.txt')}`);
  });

  it('runs at most `workers` tasks at once', async () => {
    const leaves = Array.from({ length: 8 }, (_, i) => `leaf${i}`);
    script = { root: { deps: leaves }, ...Object.fromEntries(leaves.map((l) => [l, { delayMs: 30 }])) };
    await run(step('root'), { logger, workers: 3 });
    expect(maxRunning).toBe(3);
  });

  it('cancels: no new task starts, running tasks are aborted and publish nothing', async () => {
    script = { root: { deps: ['a', 'b'] }, a: { delayMs: 10_000 }, b: { delayMs: 10_000 } };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const summary = await run(step('root'), { logger, workers: 1, signal: controller.signal });
    expect(summary.cancelled).toBe(true);
    expect(summary.ok).toBe(false);
    expect(summary.tasks.map((t) => t.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(Object.values(attempts)).toEqual([1]);
    expect(await step('a').output().exists()).toBe(false);
    expect(await step('b').output().exists()).toBe(false);
  });
});

describe('task context: progress and tracking', () => {
  class Counting extends Task<{ dir: string }> {
    static override params = { dir: param.string() };
    override output() {
      return new LocalTarget(join(this.params.dir, 'counting.txt'));
    }
    async run(ctx: TaskContext) {
      ctx.tracking.logMetric('loss', 0.5);
      for (let i = 1; i <= 3; i++) ctx.progress(i, 3, `batch ${i}`);
      await this.output().writeText('done\n');
    }
  }

  it('emits task:progress events and hands each attempt the tracking the run was given', async () => {
    const events: SchedulerEvent[] = [];
    const metrics: [string, string, number][] = [];
    const tracking = (taskId: string) => ({
      logParam() {},
      logParams() {},
      logMetric: (key: string, value: number) => void metrics.push([taskId, key, value]),
      setTag() {},
      logArtifact() {},
    });
    const task = new Counting({ dir });
    const summary = await run(task, { logger, onEvent: (e) => events.push(e), tracking });
    expect(summary.ok).toBe(true);
    const progress = events.filter((e) => e.type === 'task:progress');
    expect(progress).toEqual([1, 2, 3].map((done) => ({ type: 'task:progress', taskId: task.id, attempt: 1, done, total: 3, note: `batch ${done}` })));
    expect(metrics).toEqual([[task.id, 'loss', 0.5]]);
  });

  it('gives a run without tracking a context whose tracking accepts every call', async () => {
    const summary = await run(new Counting({ dir }), { logger });
    expect(summary.ok).toBe(true);
  });
});
