import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { CycleError, InvalidRequirementError } from '../src/public/errors';
import { LocalTarget, param, run, Task, type TaskContext } from '../src';
import { planOutput } from '../src/flow/plan-output';

const logger = createLogger({ level: 'silent' });
let dir: string;
let requiresCalls: Record<string, number>;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-lazy-'));
  requiresCalls = {};
});

const dayBefore = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

/** Luigi's classic pattern: every day requires the day before, forever; a complete day stops the expansion. */
class Daily extends Task<{ day: string; dir: string }> {
  static override params = { day: param.date(), dir: param.string() };
  override requires() {
    requiresCalls[this.params.day] = (requiresCalls[this.params.day] ?? 0) + 1;
    return new Daily({ day: dayBefore(this.params.day), dir: this.params.dir });
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `${this.params.day}.txt`));
  }
  async run() {
    const before = await this.input().readText();
    await this.output().writeText(`${Number(before) + 1}`);
  }
}

describe('lazy graph', () => {
  it('expands an endless requires() chain only back to a complete task, and runs only the incomplete days', async () => {
    await writeFile(join(dir, '2026-01-01.txt'), '0');
    const summary = await run(new Daily({ day: '2026-01-11', dir }), { logger });
    expect(summary.ok).toBe(true);
    expect(summary.tasks.filter((t) => t.status === 'ran')).toHaveLength(10);
    expect(summary.tasks.filter((t) => t.status === 'complete')).toHaveLength(1);
    expect(Object.keys(requiresCalls).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `2026-01-${String(i + 2).padStart(2, '0')}`));
    expect(await new Daily({ day: '2026-01-11', dir }).output().readText()).toBe('10');
  });

  it('--dry-run and --graph expand only as far as the plan needs', async () => {
    await writeFile(join(dir, '2026-01-01.txt'), '0');
    const dry = await planOutput([new Daily({ day: '2026-01-04', dir })], 'dry-run', []);
    expect(dry.split('\n')[0]).toBe('dry run: 3 task(s) would run, 1 already complete');
    expect(dry).toContain(`would run ${new Daily({ day: '2026-01-02', dir }).id}: missing ${join(dir, '2026-01-02.txt')}`);
    const dot = await planOutput([new Daily({ day: '2026-01-04', dir })], 'graph', []);
    expect(dot.match(/fillcolor=palegreen/g)).toHaveLength(1);
    expect(dot.match(/fillcolor=lightskyblue/g)).toHaveLength(3);
  });

  it('refuses a chain that never reaches a complete task, naming the limit', async () => {
    await expect(run(new Daily({ day: '2026-01-11', dir }), { logger, maxTasks: 500 })).rejects.toThrow(/passed 500 tasks.*requires\(\) chain/);
  });

  it('still finds a cycle among the expanded tasks and names it in order', async () => {
    class Loop extends Task<{ n: number; dir: string }> {
      static override params = { n: param.int(), dir: param.string() };
      override requires() {
        return new Loop({ n: (this.params.n + 1) % 3, dir: this.params.dir });
      }
      override output() {
        return new LocalTarget(join(this.params.dir, `loop-${this.params.n}`));
      }
      async run() {}
    }
    const error = await run(new Loop({ n: 0, dir }), { logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CycleError);
    expect((error as CycleError).cycle).toHaveLength(3);
  });
});

/** Behaviour per name: what it requires and whether requires() / output() throw. */
let spec: Record<string, { deps?: string[]; requiresThrows?: boolean; outputThrows?: boolean; returnsTarget?: boolean; removes?: string; priority?: number }> = {};
const ran: string[] = [];

class Node extends Task<{ name: string; dir: string }> {
  static override params = { name: param.string(), dir: param.string() };
  override readonly priority: number;
  constructor(params: { name: string; dir: string }) {
    super(params);
    this.priority = spec[params.name]?.priority ?? 0;
  }
  override requires() {
    const s = spec[this.params.name] ?? {};
    if (s.requiresThrows) throw new Error('the lookup table is gone');
    if (s.returnsTarget) return [new LocalTarget('/tmp/x')] as never;
    return (s.deps ?? []).map((name) => new Node({ name, dir: this.params.dir }));
  }
  override output() {
    if (spec[this.params.name]?.outputThrows) throw new Error('no path configured');
    return new LocalTarget(join(this.params.dir, `${this.params.name}.txt`));
  }
  async run(ctx: TaskContext) {
    ran.push(this.params.name);
    const removes = spec[this.params.name]?.removes;
    if (removes) await rm(join(this.params.dir, `${removes}.txt`));
    await this.output().writeText(`${ctx.attempt}`);
  }
}
const node = (name: string) => new Node({ name, dir });

describe('requires() and output() that throw, and requirements re-checked before a start', () => {
  beforeEach(() => {
    spec = {};
    ran.length = 0;
  });

  for (const method of ['requires', 'output'] as const) {
    it(`a ${method}() that throws fails that task, naming it and the method; dependents are blocked, other branches run`, async () => {
      spec = { root: { deps: ['bad', 'good'] }, bad: method === 'requires' ? { requiresThrows: true } : { outputThrows: true }, good: {} };
      const summary = await run(node('root'), { logger, workers: 1 });
      const record = (name: string) => summary.tasks.find((t) => t.id === node(name).id);
      expect(record('bad')).toMatchObject({ status: 'failed', error: expect.stringContaining(`${node('bad').id}: ${method}() threw:`) });
      expect(record('root')).toMatchObject({ status: 'blocked', blockedBy: node('bad').id });
      expect(record('good')?.status).toBe('ran');
      expect(summary.ok).toBe(false);
    });
  }

  it('a requires() that returns a target stays an error before anything runs, naming the task and what it returned', async () => {
    spec = { root: { deps: ['odd', 'good'] }, odd: { returnsTarget: true }, good: {} };
    const error = await run(node('root'), { logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequirementError);
    expect((error as Error).message).toContain(`${node('odd').id}: requires() must return a Task`);
    expect(ran).toEqual([]);
  });

  it('fails a task whose requirement lost its outputs after planning, naming the requirement and the missing file', async () => {
    // `kept` is complete when planned; `remover` (run first: higher priority) deletes its output; `user` must not run on nothing.
    await writeFile(join(dir, 'kept.txt'), 'old');
    spec = { root: { deps: ['user', 'remover'] }, user: { deps: ['kept'] }, remover: { removes: 'kept', priority: 10 } };
    const summary = await run(node('root'), { logger, workers: 1 });
    const user = summary.tasks.find((t) => t.id === node('user').id)!;
    expect(ran).toEqual(['remover']);
    expect(user.status).toBe('failed');
    expect(user.error).toBe(
      `${node('user').id}: unfulfilled requirement ${node('kept').id}: missing ${join(dir, 'kept.txt')}. Something removed it after planning; run the flow again to rebuild it.`,
    );
  });
});
