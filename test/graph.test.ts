import { describe, expect, it } from 'vitest';
import { CycleError, InvalidRequirementError } from '../src/public/errors';
import { LocalTarget, param, Task } from '../src';
import { TaskGraph } from '../src/public/runtime';

class Node extends Task<{ name: string }> {
  static override params = { name: param.string() };
  static edges: Record<string, unknown[]> = {};
  override requires() {
    return (Node.edges[this.params.name] ?? []).map((n) => (typeof n === 'string' ? new Node({ name: n }) : n)) as Task[];
  }
  async run() {}
}

describe('task graph', () => {
  it('fails on a cycle, printing its task ids in requires() order', () => {
    Node.edges = { a: ['b'], b: ['c'], c: ['d', 'a'], d: [] };
    const ids = ['a', 'b', 'c'].map((name) => new Node({ name }).id);
    let error: unknown;
    try {
      TaskGraph.build([new Node({ name: 'a' })]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CycleError);
    const cycle = (error as CycleError).cycle;
    expect(cycle).toHaveLength(3);
    const start = cycle.indexOf(ids[0]);
    expect([...cycle.slice(start), ...cycle.slice(0, start)]).toEqual(ids);
    expect((error as Error).message).toContain(' -> ');
  });

  it('fails when requires() returns a target, naming the task and what it returned', () => {
    Node.edges = { a: [new LocalTarget('/tmp/x')] };
    const a = new Node({ name: 'a' });
    expect(() => TaskGraph.build([a])).toThrow(InvalidRequirementError);
    expect(() => TaskGraph.build([a])).toThrow(`${a.id}: requires() must return a Task, an array of Tasks or a record of Tasks, but returned a LocalTarget`);
  });

  it('orders dependencies first and exports DOT', () => {
    Node.edges = { a: ['b', 'c'], b: ['c'], c: [] };
    const graph = TaskGraph.build([new Node({ name: 'a' })]);
    const [c, b, a] = ['c', 'b', 'a'].map((name) => new Node({ name }).id);
    expect(graph.order()).toEqual([c, b, a]);
    const dot = graph.toDot();
    expect(dot).toMatch(/^digraph dagwright \{/);
    expect(dot).toContain(`"${c}" -> "${b}";`);
    expect(dot).toContain(`"${b}" -> "${a}";`);
  });
});
