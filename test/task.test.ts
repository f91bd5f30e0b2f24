import { describe, expect, it } from 'vitest';
import { LocalTarget, param, ParameterError, Task } from '../src';
import { TaskGraph } from '../src/public/runtime';

class Clean extends Task<{ day: string; limit?: number; verbose?: boolean }> {
  static override params = {
    day: param.date(),
    limit: param.int({ default: 10, min: 1 }),
    verbose: param.boolean({ default: false, significant: false }),
  };
  override output() {
    return new LocalTarget(`/tmp/clean-${this.params.day}.json`);
  }
  async run() {}
}

class Versioned extends Clean {
  static override family = 'Clean';
  override readonly version = '2';
}

class Fetch extends Task<{ day: string }> {
  static override params = { day: param.date() };
  async run() {}
}

class Join extends Task {
  override requires() {
    return { a: new Fetch({ day: '2026-11-01' }), b: new Fetch({ day: '2026-11-02' }) };
  }
  async run() {}
}

class TwoPaths extends Task {
  override requires() {
    return [new Join(), new Fetch({ day: '2026-11-01' })];
  }
  async run() {}
}

describe('task parameters', () => {
  it('applies defaults and keeps given values', () => {
    const t = new Clean({ day: '2026-11-01' });
    expect(t.params).toEqual({ day: '2026-11-01', limit: 10, verbose: false });
  });

  it('rejects a bad value naming the parameter, the value and what was expected', () => {
    expect(() => new Clean({ day: '2026-02-30' })).toThrow(ParameterError);
    expect(() => new Clean({ day: '2026-02-30' })).toThrow('Clean: parameter "day" got "2026-02-30"; expected a date YYYY-MM-DD');
    expect(() => new Clean({ day: '2026-11-01', limit: 0 })).toThrow('parameter "limit" got 0; expected an integer >= 1');
    expect(() => new Clean({ day: '2026-11-01', limit: 1.5 })).toThrow('expected an integer >= 1');
  });

  it('rejects a missing required parameter and an unknown one', () => {
    expect(() => new Clean({} as never)).toThrow('Clean: parameter "day" is missing; expected a date YYYY-MM-DD');
    expect(() => new Clean({ day: '2026-11-01', colour: 'red' } as never)).toThrow('parameter "colour" got "red"; expected no such parameter (known: day, limit, verbose)');
  });

  it('parses command-line text into typed values', () => {
    expect(param.int().parse('T', 'n', '42')).toBe(42);
    expect(param.number().parse('T', 'lr', '0.001')).toBe(0.001);
    expect(param.boolean().parse('T', 'b', 'false')).toBe(false);
    expect(param.choice(['a', 'b']).parse('T', 'c', 'b')).toBe('b');
    expect(() => param.int().parse('T', 'n', 'abc')).toThrow('T: parameter "n" got "abc"; expected an integer.');
    expect(() => param.choice(['a', 'b']).parse('T', 'c', 'z')).toThrow('expected one of a, b');
  });
});

describe('task identity', () => {
  it('is deterministic: family, a readable summary and a hash', () => {
    const a = new Clean({ day: '2026-11-01' });
    const b = new Clean({ day: '2026-11-01', limit: 10 });
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^Clean_2026-11-01_10_[0-9a-f]{10}$/);
  });

  it('changes with significant parameters and the version, not with insignificant ones', () => {
    const base = new Clean({ day: '2026-11-01' });
    expect(new Clean({ day: '2026-11-01', verbose: true }).id).toBe(base.id);
    expect(new Clean({ day: '2026-11-01', limit: 11 }).id).not.toBe(base.id);
    expect(new Clean({ day: '2026-11-02' }).id).not.toBe(base.id);
    const v2 = new Versioned({ day: '2026-11-01' });
    expect(v2.family).toBe('Clean');
    expect(v2.id).not.toBe(base.id);
  });

  it('makes the same task reached along two paths one node', () => {
    const graph = TaskGraph.build([new TwoPaths()]);
    expect(graph.size).toBe(4);
    expect(graph.order().at(-1)).toBe(new TwoPaths().id);
  });

  it('derives input() from requires() in the same shape', () => {
    class Reader extends Task {
      override requires() {
        return { clean: new Clean({ day: '2026-11-01' }) };
      }
      async run() {}
    }
    const input = new Reader().input();
    expect(input.clean.path).toBe('/tmp/clean-2026-11-01.json');
  });
});
