import pLimit from 'p-limit';
import type { TaskGraph } from './graph';

/** What a run must do, decided by completeness checks before anything runs. */
export interface Plan {
  readonly graph: TaskGraph;
  /** Tasks found complete: not run, and their requirements not even checked. */
  readonly complete: ReadonlySet<string>;
  /** Tasks to run, dependencies first. */
  readonly toRun: readonly string[];
  /** Tasks whose complete() threw: they fail, and block whatever requires them. */
  readonly checkErrors: ReadonlyMap<string, unknown>;
}

/**
 * Checks completeness from the roots down, each task at most once and at most
 * `concurrency` checks at a time. As in Luigi, a complete task's requirements
 * are not visited: its outputs already stand for them.
 */
export async function planRun(graph: TaskGraph, concurrency: number): Promise<Plan> {
  const limit = pLimit(concurrency);
  const complete = new Set<string>();
  const incomplete = new Set<string>();
  const checkErrors = new Map<string, unknown>();
  const visited = new Set<string>();
  const checks: Promise<void>[] = [];

  const visit = (id: string): void => {
    if (visited.has(id)) return;
    visited.add(id);
    checks.push(
      limit(() => graph.task(id).complete()).then(
        (done) => {
          if (done) {
            complete.add(id);
            return;
          }
          incomplete.add(id);
          for (const dep of graph.dependencies(id)) visit(dep);
        },
        (err: unknown) => {
          checkErrors.set(id, err);
        },
      ),
    );
  };

  for (const root of graph.roots) visit(root.id);
  // visit() appends while earlier checks settle, so walk the growing list.
  for (let i = 0; i < checks.length; i++) await checks[i];

  const toRun = graph.order().filter((id) => incomplete.has(id) || checkErrors.has(id));
  return { graph, complete, toRun, checkErrors };
}

/** Why a task in the plan must run: the outputs it lacks, for `--dry-run`. */
export async function reasonToRun(plan: Plan, id: string): Promise<string> {
  const error = plan.checkErrors.get(id);
  if (error !== undefined) return `complete() failed: ${error instanceof Error ? error.message : String(error)}`;
  const task = plan.graph.task(id);
  if (!task.completeByOutputs) return 'complete() returned false';
  const outputs = task.outputList();
  if (outputs.length === 0) return 'it declares no outputs, so it always runs';
  const found = await Promise.all(outputs.map((t) => t.exists()));
  const missing = outputs.filter((_, i) => !found[i]).map((t) => t.uri);
  return `missing ${missing.join(', ')}`;
}
