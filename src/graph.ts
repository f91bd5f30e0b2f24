import { alg, Graph } from '@dagrejs/graphlib';
import { CycleError } from './errors';
import type { AnyTask } from './task';

/**
 * The DAG of tasks reachable from the roots, keyed by task id. An edge runs
 * from a dependency to the task that requires it (the direction data flows).
 * `build()` expands every reachable task at once (calling each `requires()`
 * once, no I/O); the planner starts from `fromRoots()` and adds only the
 * tasks it expands (see plan.ts), so a chain back to a complete task ends.
 */
export class TaskGraph {
  private constructor(
    private readonly graph: Graph,
    readonly roots: readonly AnyTask[],
  ) {}

  /** Builds the graph; the same task reached along two paths is one node. */
  static build(roots: readonly AnyTask[]): TaskGraph {
    const graph = new Graph({ directed: true });
    const uniqueRoots: AnyTask[] = [];
    const stack: AnyTask[] = [];
    for (const root of roots) {
      if (graph.hasNode(root.id)) continue;
      graph.setNode(root.id, root);
      uniqueRoots.push(root);
      stack.push(root);
    }
    while (stack.length > 0) {
      const task = stack.pop()!;
      for (const dep of task.requirementList()) {
        if (!graph.hasNode(dep.id)) {
          graph.setNode(dep.id, dep);
          stack.push(dep);
        }
        graph.setEdge(dep.id, task.id);
      }
    }
    const result = new TaskGraph(graph, uniqueRoots);
    result.assertAcyclic();
    return result;
  }

  /** Only the roots: the planner adds what it expands with `add()` and `addEdge()`. */
  static fromRoots(roots: readonly AnyTask[]): TaskGraph {
    const graph = new Graph({ directed: true });
    const uniqueRoots: AnyTask[] = [];
    for (const root of roots) {
      if (graph.hasNode(root.id)) continue;
      graph.setNode(root.id, root);
      uniqueRoots.push(root);
    }
    return new TaskGraph(graph, uniqueRoots);
  }

  /** Adds `task` unless a task with its id is there; returns the task the graph holds under that id. */
  add(task: AnyTask): AnyTask {
    const held = this.graph.node(task.id) as AnyTask | undefined;
    if (held) return held;
    this.graph.setNode(task.id, task);
    this.topologicalOrder = undefined;
    return task;
  }

  /** `id` requires `dependencyId`. */
  addEdge(dependencyId: string, id: string): void {
    this.graph.setEdge(dependencyId, id);
    this.topologicalOrder = undefined;
  }

  removeEdge(dependencyId: string, id: string): void {
    this.graph.removeEdge(dependencyId, id);
    this.topologicalOrder = undefined;
  }

  get size(): number {
    return this.graph.nodeCount();
  }

  task(id: string): AnyTask {
    const task = this.graph.node(id) as AnyTask | undefined;
    if (!task) throw new Error(`no task ${id} in this graph`);
    return task;
  }

  has(id: string): boolean {
    return this.graph.hasNode(id);
  }

  /** Ids of the tasks `id` requires. */
  dependencies(id: string): string[] {
    return this.graph.predecessors(id) ?? [];
  }

  /** Ids of the tasks that require `id`. */
  dependents(id: string): string[] {
    return this.graph.successors(id) ?? [];
  }

  private topologicalOrder: string[] | undefined;

  /** Every task id, dependencies before the tasks that need them. */
  order(): readonly string[] {
    this.topologicalOrder ??= alg.topsort(this.graph);
    return this.topologicalOrder;
  }

  /** Graphviz DOT; `status` may colour nodes (e.g. complete / to run). */
  toDot(status?: (id: string) => string | undefined): string {
    const colours: Record<string, string> = { complete: 'palegreen', run: 'lightskyblue', failed: 'salmon' };
    const lines = ['digraph dagwright {', '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fillcolor=white];'];
    for (const id of this.order()) {
      const s = status?.(id);
      const fill = s && colours[s] ? `, fillcolor=${colours[s]}` : '';
      lines.push(`  ${JSON.stringify(id)} [label=${JSON.stringify(id)}${fill}];`);
    }
    for (const { v, w } of this.graph.edges()) lines.push(`  ${JSON.stringify(v)} -> ${JSON.stringify(w)};`);
    lines.push('}');
    return `${lines.join('\n')}\n`;
  }

  /** Throws a `CycleError` listing one cycle's task ids in `requires()` order. */
  assertAcyclic(): void {
    try {
      this.order();
      return;
    } catch (err) {
      if (!(err instanceof alg.CycleException)) throw err;
    }
    const component = alg.findCycles(this.graph)[0];
    throw new CycleError(this.orderedCycle(new Set(component)));
  }

  /** Walks "requires" edges inside one strongly connected component back to its start. */
  private orderedCycle(component: Set<string>): string[] {
    const start = [...component].sort()[0];
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const id = queue.shift()!;
      for (const dep of this.dependencies(id)) {
        if (!component.has(dep)) continue;
        if (dep === start) {
          const cycle = [id];
          while (cycle[0] !== start) cycle.unshift(previous.get(cycle[0])!);
          return cycle;
        }
        if (!previous.has(dep)) {
          previous.set(dep, id);
          queue.push(dep);
        }
      }
    }
    return [...component];
  }
}
