import { CycleError } from './errors';
import type { AnyTask } from './task';

/** Thrown inside `topologicalOrder` when a walk meets a task on its own path. */
class CycleFound extends Error {
  constructor(readonly cycle: string[]) {
    super('cycle');
  }
}

/**
 * The DAG of tasks reachable from the roots, keyed by task id. An edge runs
 * from a dependency to the task that requires it (the direction data flows).
 * `build()` expands every reachable task at once (calling each `requires()`
 * once, no I/O); the planner starts from `fromRoots()` and adds only the
 * tasks it expands (see plan.ts), so a chain back to a complete task ends.
 * Plain maps, and walks without recursion: 100,000 tasks in a chain are fine.
 */
export class TaskGraph {
  private readonly nodes = new Map<string, AnyTask>();
  /** id -> the ids it requires, in the order first added. */
  private readonly preds = new Map<string, Set<string>>();
  /** id -> the ids that require it. */
  private readonly succs = new Map<string, Set<string>>();
  private topologicalOrder: string[] | undefined;

  private constructor(readonly roots: readonly AnyTask[]) {}

  /** Builds the graph; the same task reached along two paths is one node. */
  static build(roots: readonly AnyTask[]): TaskGraph {
    const graph = TaskGraph.fromRoots(roots);
    const stack = [...graph.roots];
    while (stack.length > 0) {
      const task = stack.pop()!;
      for (const dep of task.requirementList()) {
        if (!graph.has(dep.id)) stack.push(graph.add(dep));
        graph.addEdge(dep.id, task.id);
      }
    }
    graph.assertAcyclic();
    return graph;
  }

  /** Only the roots: the planner adds what it expands with `add()` and `addEdge()`. */
  static fromRoots(roots: readonly AnyTask[]): TaskGraph {
    const unique = new Map<string, AnyTask>();
    for (const root of roots) if (!unique.has(root.id)) unique.set(root.id, root);
    const graph = new TaskGraph([...unique.values()]);
    for (const root of unique.values()) graph.add(root);
    return graph;
  }

  /** Adds `task` unless a task with its id is there; returns the task the graph holds under that id. */
  add(task: AnyTask): AnyTask {
    const held = this.nodes.get(task.id);
    if (held) return held;
    this.nodes.set(task.id, task);
    this.preds.set(task.id, new Set());
    this.succs.set(task.id, new Set());
    this.topologicalOrder = undefined;
    return task;
  }

  /** `id` requires `dependencyId`; both must be in the graph. */
  addEdge(dependencyId: string, id: string): void {
    const preds = this.preds.get(id)!;
    if (preds.has(dependencyId)) return;
    preds.add(dependencyId);
    this.succs.get(dependencyId)!.add(id);
    this.topologicalOrder = undefined;
  }

  removeEdge(dependencyId: string, id: string): void {
    this.preds.get(id)?.delete(dependencyId);
    this.succs.get(dependencyId)?.delete(id);
    this.topologicalOrder = undefined;
  }

  get size(): number {
    return this.nodes.size;
  }

  task(id: string): AnyTask {
    const task = this.nodes.get(id);
    if (!task) throw new Error(`no task ${id} in this graph`);
    return task;
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  /** Ids of the tasks `id` requires. */
  dependencies(id: string): string[] {
    const preds = this.preds.get(id);
    return preds ? [...preds] : [];
  }

  /** Ids of the tasks that require `id`. */
  dependents(id: string): string[] {
    const succs = this.succs.get(id);
    return succs ? [...succs] : [];
  }

  /** Every task id, dependencies before the tasks that need them. */
  order(): readonly string[] {
    this.topologicalOrder ??= this.walk();
    return this.topologicalOrder;
  }

  /** Depth-first from each task nothing requires, requirements first (post-order), as graphlib's topsort did. */
  private walk(): string[] {
    const done = new Set<string>();
    const out: string[] = [];
    for (const [sink, succs] of this.succs) if (succs.size === 0 && !done.has(sink)) this.visitFrom(sink, done, out);
    // Tasks not reached from any sink are on, or below, a cycle: walking from them finds it.
    if (out.length !== this.nodes.size) for (const id of this.nodes.keys()) if (!done.has(id)) this.visitFrom(id, done, out);
    return out;
  }

  /** Post-order walk of requirements from `start`, without recursion; throws `CycleFound` on meeting a task on its own path. */
  private visitFrom(start: string, done: Set<string>, out: string[]): void {
    const onPath = new Set<string>([start]);
    const stack: [string, Iterator<string>][] = [[start, this.preds.get(start)!.values()]];
    while (stack.length > 0) {
      const [id, deps] = stack[stack.length - 1];
      const next = deps.next();
      if (next.done) {
        stack.pop();
        onPath.delete(id);
        done.add(id);
        out.push(id);
        continue;
      }
      const dep = next.value;
      if (onPath.has(dep)) throw new CycleFound(stack.map(([s]) => s).slice(stack.findIndex(([s]) => s === dep)));
      if (done.has(dep)) continue;
      onPath.add(dep);
      stack.push([dep, this.preds.get(dep)!.values()]);
    }
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
    for (const id of this.order()) for (const dep of this.preds.get(id)!) lines.push(`  ${JSON.stringify(dep)} -> ${JSON.stringify(id)};`);
    lines.push('}');
    return `${lines.join('\n')}\n`;
  }

  /** Throws a `CycleError` listing one cycle's task ids in `requires()` order, starting from the smallest id. */
  assertAcyclic(): void {
    try {
      this.order();
    } catch (err) {
      if (!(err instanceof CycleFound)) throw err;
      const { cycle } = err;
      const start = cycle.indexOf([...cycle].sort()[0]);
      throw new CycleError([...cycle.slice(start), ...cycle.slice(0, start)]);
    }
  }
}
