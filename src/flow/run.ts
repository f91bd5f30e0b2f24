import { InProcessExecutor } from '../executors/in-process';
import { type RunOptions, type RunSummary, runTasks } from '../run';
import type { AnyTask } from '../task';

/**
 * Resolves the DAG from `roots` lazily (only incomplete tasks' requirements
 * are expanded), skips what is complete and runs the rest, in this process
 * unless `options.executor` says where. Never throws for a task's failure:
 * the summary says what failed. Throws for a broken graph (a cycle, a
 * requires() returning a non-task) or an unknown option before anything runs.
 */
export function run(roots: AnyTask | readonly AnyTask[], options: RunOptions = {}): Promise<RunSummary> {
  return runTasks(roots, { ...options, executor: options.executor ?? new InProcessExecutor() });
}
