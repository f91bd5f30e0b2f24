/**
 * Task events (Luigi's `trigger_event`): tasks send named JSON events with
 * `ctx.emit`, a flow subscribes with `on`, the scheduler sends its own
 * dependency events, and run history keeps them for `dagwright runs show`.
 * In process, through real runs on a local store and a real flow script.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalTask, type JsonValue, param, parseStore, run, target, Task, type TaskContext, type TaskEvent, taskEvent } from '../src';
import { createLogger, type SchedulerEvent } from '../src/public/runtime';
import { RunHistory } from '../src/public/store';
import { runsCommand } from '../app/cli/runs';
import { runFlowProcess } from './helpers/flow-process';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dagwright-events-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const logger = createLogger({ level: 'silent' });
const trained = taskEvent<{ accuracy: number; epoch: number }>('model:trained');

class Train extends Task<{ dir: string; epochs: number }> {
  static override params = { dir: param.string(), epochs: param.int() };
  override output() {
    return target(join(this.params.dir, `model-${this.params.epochs}.txt`));
  }
  async run(ctx: TaskContext) {
    for (let epoch = 1; epoch <= this.params.epochs; epoch++) trained.emit(ctx, { accuracy: 0.9 + epoch / 100, epoch });
    await this.output().writeText('model');
  }
}

describe('events a task sends', () => {
  it('reach the subscribers by name, typed, in order; "*" sees every event and onEvent sees them as task:event', async () => {
    const dir = await tempDir();
    const got: { accuracy: number; epoch: number }[] = [];
    const all: TaskEvent[] = [];
    const raw: SchedulerEvent[] = [];
    const summary = await run(new Train({ dir, epochs: 3 }), {
      logger,
      on: { ...trained.on((p) => got.push(p)), '*': (_p, e) => all.push(e) },
      onEvent: (e) => raw.push(e),
    });
    expect(summary.ok).toBe(true);
    expect(got).toEqual([
      { accuracy: 0.91, epoch: 1 },
      { accuracy: 0.92, epoch: 2 },
      { accuracy: 0.93, epoch: 3 },
    ]);
    expect(all.map((e) => [e.name, e.taskId, e.attempt])).toEqual([1, 2, 3].map(() => ['model:trained', new Train({ dir, epochs: 3 }).id, 1]));
    expect(raw.filter((e) => e.type === 'task:event')).toHaveLength(3);
  });

  it('are a copy: a payload the task changes after sending arrives as it was sent', async () => {
    const dir = await tempDir();
    const got: JsonValue[] = [];
    class Mutating extends Task {
      override output() {
        return target(join(dir, 'm.txt'));
      }
      async run(ctx: TaskContext) {
        const payload = { n: 1 };
        ctx.emit('changed', payload);
        payload.n = 2;
        await this.output().writeText('x');
      }
    }
    await run(new Mutating(), { logger, on: { changed: (p) => got.push(p) } });
    expect(got).toEqual([{ n: 1 }]);
  });

  it('a subscriber that throws is logged and the run still succeeds', async () => {
    const dir = await tempDir();
    const summary = await run(new Train({ dir, epochs: 1 }), {
      logger,
      on: trained.on(() => {
        throw new Error('subscriber broke');
      }),
    });
    expect(summary.ok).toBe(true);
  });

  it('refuses, in the task, a payload over 16 KiB, a payload that is not JSON, a bad name and a reserved name', async () => {
    const dir = await tempDir();
    const sends: Record<string, (ctx: TaskContext) => void> = {
      big: (ctx) => ctx.emit('big', 'x'.repeat(17 * 1024)),
      cyclic: (ctx) => {
        const o: Record<string, unknown> = {};
        o.self = o;
        ctx.emit('cyclic', o as JsonValue);
      },
      badName: (ctx) => ctx.emit('has space', 1),
      reserved: (ctx) => ctx.emit('dependency:present', 1),
    };
    class Sender extends Task<{ how: string }> {
      static override params = { how: param.string() };
      override output() {
        return target(join(dir, `${this.params.how}.txt`));
      }
      async run(ctx: TaskContext) {
        sends[this.params.how](ctx);
        await this.output().writeText('sent');
      }
    }
    const summary = await run(Object.keys(sends).map((how) => new Sender({ how })), { logger });
    expect(summary.tasks.map((t) => t.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    const messages = summary.tasks.map((t) => t.error).join('\n');
    expect(messages).toMatch(/event "big" has a 17410-byte payload; the limit is 16384 bytes\. Write large data to an output target/);
    expect(messages).toMatch(/event "cyclic" has a payload that is not JSON/);
    expect(messages).toMatch(/event "has space" has a bad name/);
    expect(messages).toMatch(/event "dependency:present" uses the prefix "dependency:"/);
  });
});

describe("the scheduler's dependency events", () => {
  it('says which requirements were present, which external data was missing, and what a running task discovered', async () => {
    const dir = await tempDir();
    class Raw extends ExternalTask<{ name: string }> {
      static override params = { name: param.string() };
      override output() {
        return target(join(dir, `${this.params.name}.csv`));
      }
    }
    class Extra extends Task {
      override output() {
        return target(join(dir, 'extra.txt'));
      }
      async run() {
        await this.output().writeText('extra');
      }
    }
    class Join extends Task<{ name: string }> {
      static override params = { name: param.string() };
      override requires() {
        return new Raw({ name: this.params.name });
      }
      override output() {
        return target(join(dir, `joined-${this.params.name}.txt`));
      }
      async run(ctx: TaskContext) {
        await ctx.require(new Extra());
        await this.output().writeText('joined');
      }
    }
    await target(join(dir, 'here.csv')).writeText('a\n');
    const events: TaskEvent[] = [];
    await run([new Join({ name: 'here' }), new Join({ name: 'gone' })], { logger, on: { '*': (_p, e) => events.push(e) } });
    const seen = events.map((e) => [e.name, e.taskId, e.payload]);
    expect(seen).toContainEqual(['dependency:present', new Raw({ name: 'here' }).id, null]);
    expect(seen).toContainEqual(['dependency:missing', new Raw({ name: 'gone' }).id, { missing: [join(dir, 'gone.csv')] }]);
    expect(seen).toContainEqual(['dependency:discovered', new Join({ name: 'here' }).id, { dependency: new Extra().id }]);
    expect(events.every((e) => e.attempt === 0)).toBe(true);
  });
});

describe('events of a flow script', () => {
  it('reach the flow\'s subscribers, and run history and "dagwright runs show" list them', async () => {
    const store = await tempDir();
    const result = await runFlowProcess('test/fixtures/events-flow.ts', ['--executor', 'inprocess', '--store', store]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { got: string; taskId: string; payload?: unknown });
    expect(lines.filter((l) => l.got === 'rows:counted').map((l) => l.payload)).toEqual(
      expect.arrayContaining([
        { file: 'alpha', rows: 5 },
        { file: 'be', rows: 2 },
      ]),
    );
    const [runId] = await RunHistory.forStore(parseStore(store)).runIds();
    const record = await RunHistory.forStore(parseStore(store)).read(runId);
    expect(record!.events!.map((e) => e.name).sort()).toEqual(['note', 'note', 'rows:counted', 'rows:counted']);
    let shown = '';
    expect(await runsCommand(['show', 'latest', '--store', store], { out: (t) => (shown += t) })).toBe(0);
    expect(shown).toMatch(/events \(4\):/);
    expect(shown).toMatch(/rows:counted {2}CountRows\S* \{"file":"alpha","rows":5\}/);
    expect(shown).toMatch(/note {2}CountRows\S* "a plain string payload"/);

    // Again: both tasks are complete, so the flow's subscriber hears they are present.
    const again = await runFlowProcess('test/fixtures/events-flow.ts', ['--executor', 'inprocess', '--store', store]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { got: string }).got)).toEqual(['dependency:present', 'dependency:present']);
  }, 60_000);
});
