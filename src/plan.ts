import pLimit, { type LimitFunction } from 'p-limit';
import { GraphTooLargeError, InvalidOutputError, InvalidRequirementError, TaskMethodError, UsageError } from './errors';
import { listedCompleteness } from './bulk-complete';
import { TaskGraph } from './graph';
import { checkRetrySettings } from './retry-policy';

/** From this many requirements of one task on, the planner lists their folders instead of checking each. */
const listFrom = 64;
import { type AnyTask, ExternalTask } from './task';

/** What a run must do, decided by completeness checks before anything runs. */
export interface Plan {
  readonly graph: TaskGraph;
  /** Tasks found complete: not run, and their requirements not even expanded. */
  readonly complete: ReadonlySet<string>;
  /** Tasks to run, dependencies first. */
  readonly toRun: readonly string[];
  /** Tasks whose complete(), output() or requires() threw: they fail, and block whatever requires them. */
  readonly checkErrors: ReadonlyMap<string, unknown>;
  /** `ExternalTask`s whose outputs are missing: reported as missing external data, never run. */
  readonly missingExternal: ReadonlySet<string>;
}

export interface PlanOptions {
  /** Completeness checks at once; default 64. */
  readonly concurrency?: number;
  /** Tasks to treat as incomplete, with everything downstream of them (`--rerun`). */
  readonly rerun?: (task: AnyTask) => boolean;
  /** Refuse a graph larger than this (an endless requires() chain); default 1,000,000. */
  readonly maxTasks?: number;
}

/**
 * Lazy expansion, as in Luigi: a task's completeness is checked first, and
 * only an incomplete task's `requires()` is called, so a chain back to a
 * complete task stops there. Checks run at most `concurrency` at a time and
 * each task is checked once. Grows with `expand()` for dynamic requirements.
 */
export class Planner implements Plan {
  readonly complete = new Set<string>();
  readonly checkErrors = new Map<string, unknown>();
  readonly missingExternal = new Set<string>();
  private readonly incomplete = new Set<string>();
  private readonly visited = new Set<string>();
  private readonly forced = new Set<string>();
  /** Answers from one folder listing for the many requirements of one task (see `listDeps`). */
  private readonly listed = new Map<string, boolean>();
  private readonly limit: LimitFunction;
  private readonly maxTasks: number;
  private ordered: string[] = [];

  constructor(
    readonly graph: TaskGraph,
    private readonly options: PlanOptions = {},
  ) {
    this.limit = pLimit(options.concurrency ?? 64);
    this.maxTasks = options.maxTasks ?? 1_000_000;
  }

  /** Forced by `rerun`: run even if complete. */
  isForced(id: string): boolean {
    return this.forced.has(id);
  }

  get toRun(): readonly string[] {
    return this.ordered;
  }

  /** Plans from the graph's roots. Throws a `CycleError` or `InvalidRequirementError` before anything runs. */
  async planRoots(): Promise<void> {
    if (this.options.rerun) this.markForced(this.options.rerun);
    await this.expand(this.graph.roots);
  }

  /**
   * Checks `tasks` (new to the graph or not) and whatever incomplete tasks
   * they lead to; returns the ids that now need to run, dependencies first.
   */
  async expand(tasks: readonly AnyTask[]): Promise<string[]> {
    const checks: Promise<void>[] = [];
    const fresh = new Set<string>();
    const visit = (task: AnyTask): void => {
      if (this.visited.has(task.id)) return;
      this.visited.add(task.id);
      checks.push(this.check(task, fresh, visit));
    };
    for (const task of tasks) visit(this.graph.add(task));
    // visit() appends while earlier checks settle, so walk the growing list.
    for (let i = 0; i < checks.length; i++) await checks[i];
    this.graph.assertAcyclic();
    const order = this.graph.order().filter((id) => fresh.has(id));
    this.ordered = this.ordered.length === 0 ? order : [...this.ordered, ...order];
    return order;
  }

  private async check(task: AnyTask, fresh: Set<string>, visit: (task: AnyTask) => void): Promise<void> {
    checkRetrySettings(task);
    const known = this.listed.get(task.id);
    const done = this.forced.has(task.id) ? false : known ?? (await this.limit(() => this.isComplete(task)));
    if (done === true) {
      this.complete.add(task.id);
      return;
    }
    fresh.add(task.id);
    if (done === undefined) return; // the check threw: recorded in checkErrors
    this.incomplete.add(task.id);
    if (task instanceof ExternalTask) {
      this.missingExternal.add(task.id);
      return;
    }
    const deps = this.requirementsOf(task).map((dep) => {
      const held = this.add(dep);
      this.graph.addEdge(held.id, task.id);
      return held;
    });
    if (deps.length >= listFrom || (task.listsRequirements === true && deps.length > 1)) await this.listDeps(deps);
    for (const dep of deps) visit(dep);
  }

  /** A task with many requirements (a fan-in): one listing per output folder answers for all of them at once. */
  private async listDeps(deps: readonly AnyTask[]): Promise<void> {
    const fresh = deps.filter((d) => !this.visited.has(d.id) && !this.forced.has(d.id) && !(d instanceof ExternalTask));
    const answers = await this.limit(() => listedCompleteness(fresh)).catch(() => []);
    fresh.forEach((d, i) => {
      if (answers[i] !== undefined) this.listed.set(d.id, answers[i]);
    });
  }

  /** complete(), with output() checked first so its error names the method; undefined when either threw. */
  private async isComplete(task: AnyTask): Promise<boolean | undefined> {
    try {
      task.outputList();
    } catch (err) {
      // A path the store refuses (`..`, absolute parts) is a configuration error: nothing runs (exit 2), as for a bad store.
      if (err instanceof UsageError) throw new UsageError(`${task.id}: output() names a path the store refuses: ${err.message} Fix output() of this task; nothing ran.`, { cause: err });
      this.checkErrors.set(task.id, err instanceof TaskMethodError || err instanceof InvalidOutputError ? err : new TaskMethodError(task.id, 'output()', err));
      return undefined;
    }
    try {
      return await task.complete();
    } catch (err) {
      this.checkErrors.set(task.id, err);
      return undefined;
    }
  }

  /** requires(), checked; one that throws makes this task fail (a returned non-task stays a usage error). */
  private requirementsOf(task: AnyTask): AnyTask[] {
    try {
      return task.requirementList();
    } catch (err) {
      if (err instanceof InvalidRequirementError) throw err;
      this.checkErrors.set(task.id, new TaskMethodError(task.id, 'requires()', err));
      return [];
    }
  }

  private add(task: AnyTask): AnyTask {
    const held = this.graph.add(task);
    if (this.graph.size > this.maxTasks) throw new GraphTooLargeError(this.maxTasks, task.id);
    return held;
  }

  /**
   * `--rerun`: walks requires() below the roots (no checks) to find the
   * matches, and forces them and everything that needs them. Below a match
   * the walk follows only requirements that match too: a forced task's other
   * requirements are planned lazily like any others, so forcing the root of
   * a "day before" chain does not walk the complete days below it.
   */
  private markForced(matches: (task: AnyTask) => boolean): void {
    const stack = [...this.graph.roots];
    const seen = new Set(stack.map((t) => t.id));
    const hits: string[] = [];
    while (stack.length > 0) {
      const task = stack.pop()!;
      const hit = matches(task);
      if (hit) hits.push(task.id);
      let deps: AnyTask[];
      try {
        deps = task instanceof ExternalTask ? [] : task.requirementList();
      } catch (err) {
        if (err instanceof InvalidRequirementError) throw err;
        continue; // planning records it when it reaches this task
      }
      for (const dep of deps) {
        if (hit && !matches(dep)) continue;
        const held = this.add(dep);
        this.graph.addEdge(held.id, task.id);
        if (!seen.has(held.id)) {
          seen.add(held.id);
          stack.push(held);
        }
      }
    }
    const up = [...hits];
    while (up.length > 0) {
      const id = up.pop()!;
      if (this.forced.has(id)) continue;
      this.forced.add(id);
      up.push(...this.graph.dependents(id));
    }
  }
}

/**
 * Plans a run from `roots` (or a graph's roots). As in Luigi, a complete
 * task's requirements are not visited: its outputs already stand for them.
 */
export async function planRun(roots: TaskGraph | readonly AnyTask[], options: number | PlanOptions = {}): Promise<Planner> {
  const graph = roots instanceof TaskGraph ? TaskGraph.fromRoots(roots.roots) : TaskGraph.fromRoots(roots);
  const planner = new Planner(graph, typeof options === 'number' ? { concurrency: options } : options);
  await planner.planRoots();
  return planner;
}

/** The message for a task whose checks threw. */
export function checkErrorMessage(error: unknown): string {
  if (error instanceof TaskMethodError || error instanceof InvalidOutputError) return error.message;
  return `complete() failed: ${error instanceof Error ? error.message : String(error)}`;
}

/** Why a task in the plan must run: the outputs it lacks, for `--dry-run`. */
export async function reasonToRun(plan: Plan, id: string): Promise<string> {
  const error = plan.checkErrors.get(id);
  if (error !== undefined) return checkErrorMessage(error);
  const task = plan.graph.task(id);
  if (plan.missingExternal.has(id)) return 'missing external data (made outside this flow; never run)';
  if (!task.completeByOutputs) return 'complete() returned false';
  const outputs = task.outputList();
  if (outputs.length === 0) return 'it declares no outputs, so it always runs';
  const found = await Promise.all(outputs.map((t) => t.exists()));
  const missing = outputs.filter((_, i) => !found[i]).map((t) => t.uri);
  return missing.length === 0 ? 'forced by --rerun' : `missing ${missing.join(', ')}`;
}
