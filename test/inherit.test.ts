/** Parameter inheritance (Luigi's @inherits/@requires and clone()) through a real run writing files. */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clone, inherits, LocalTarget, param, ParameterError, run, Task, UsageError } from '../src';
import { createLogger } from '../src/public/runtime';

const logger = createLogger({ level: 'silent' });

class Prepare extends Task<{ dir: string; day: string; sample: number }> {
  static override params = { dir: param.string(), day: param.date(), sample: param.int({ default: 100 }) };
  override output() {
    return new LocalTarget(join(this.params.dir, `prepared-${this.params.day}-${this.params.sample}.txt`));
  }
  async run() {
    await this.output().writeText(`${this.params.day} x${this.params.sample}`);
  }
}

/** Declares Prepare's parameters by inheriting them, adds its own, and requires the Prepare with its own values. */
class Train extends Task<{ dir: string; day: string; sample: number; epochs: number }> {
  static override params = { ...inherits(Prepare), epochs: param.int({ default: 2 }) };
  override requires() {
    return clone(this, Prepare);
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `model-${this.params.day}-${this.params.epochs}.txt`));
  }
  async run() {
    const prepared = await this.input().readText();
    await this.output().writeText(`${prepared} trained ${this.params.epochs}`);
  }
}

class Evaluate extends Task<{ dir: string; day: string; sample: number; epochs: number; holdout: number }> {
  static override params = { ...inherits(Prepare, Train), holdout: param.int({ default: 10 }) };
  override requires() {
    // The same parameters, one changed: a smaller sample to compare against.
    return { model: clone(this, Train), baseline: clone(this, Prepare, { sample: this.params.holdout }) };
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `eval-${this.params.day}.txt`));
  }
  async run() {
    const { model, baseline } = this.input();
    await this.output().writeText(`${await model.readText()} vs ${await baseline.readText()}`);
  }
}

describe('parameter inheritance', () => {
  it('inherited parameters build the required tasks from the task\'s own values, as the same tasks made by hand', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dagwright-inherit-'));
    const evaluate = new Evaluate({ dir, day: '2026-03-01', sample: 50, epochs: 3, holdout: 5 });
    expect(Object.keys(Evaluate.params).sort()).toEqual(['day', 'dir', 'epochs', 'holdout', 'sample']);
    const summary = await run(evaluate, { logger });
    expect(summary.ok).toBe(true);
    const ids = summary.tasks.map((t) => t.id).sort();
    expect(ids).toEqual(
      [evaluate.id, new Train({ dir, day: '2026-03-01', sample: 50, epochs: 3 }).id, new Prepare({ dir, day: '2026-03-01', sample: 50 }).id, new Prepare({ dir, day: '2026-03-01', sample: 5 }).id].sort(),
    );
    expect(await readFile(join(dir, 'eval-2026-03-01.txt'), 'utf8')).toBe('2026-03-01 x50 trained 3 vs 2026-03-01 x5');
  });

  it('refuses a parameter two classes declare differently, and names a parameter clone() cannot fill', () => {
    class Other extends Task<{ day: number }> {
      static override params = { day: param.int() };
      async run() {}
    }
    expect(() => inherits(Prepare, Other)).toThrow(UsageError);
    expect(() => inherits(Prepare, Other)).toThrow('parameter "day" is a date YYYY-MM-DD in Prepare but an integer in Other');
    class Lone extends Task<{ dir: string }> {
      static override params = { dir: param.string() };
      async run() {}
    }
    expect(() => clone(new Lone({ dir: '/tmp' }), Prepare)).toThrow(ParameterError);
    expect(() => clone(new Lone({ dir: '/tmp' }), Prepare)).toThrow(/day/);
  });
});
