import { RequirementsPending } from '../dynamic-requirements';
import { errorRetryable, UsageError } from '../errors';
import type { Executor } from '../executor';
import { requestFile, taskSpecEnv } from './requests';
import { type AnyTask, type TaskContext } from '../task';
import { type TaskSpec, taskFromSpec, taskSpec } from './task-spec';
import { taskContext, type TaskContextBase } from '../task-context';
import { target } from '../targets/uri';
import { ExitCode } from './exit-codes';

/**
 * The step process (`--run-task <id>`): how it finds its task without
 * expanding the whole graph, and how a step that called `ctx.require()` on
 * incomplete tasks hands them back (exit code 3 and a request file in the
 * store; the driver's side is requests.ts).
 */

/**
 * The task `id` of this flow: from the spec in the environment when its
 * class is loaded, else searched through requires() from the roots (no
 * completeness checks, at most `maxTasks`). Throws a `UsageError` when absent.
 */
export function findStepTask(roots: readonly AnyTask[], id: string, env: NodeJS.ProcessEnv = process.env, maxTasks = 1_000_000): AnyTask {
  const text = env[taskSpecEnv];
  if (text) {
    const spec = JSON.parse(text) as TaskSpec;
    const task = spec.id === id ? taskFromSpec(spec) : undefined;
    if (task) return task;
  }
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0 && seen.size < maxTasks) {
    const task = stack.pop()!;
    if (task.id === id) return task;
    if (seen.has(task.id)) continue;
    seen.add(task.id);
    stack.push(...task.requirementList());
  }
  throw new UsageError(`--run-task ${id}: no such task in this flow with these parameters.`);
}

/**
 * Runs the step's task here through `executor` (the flow gives the
 * in-process one). Returns an exit code: 0, 1 (failed), 3 (it waits for
 * dynamic requirements, written to `requestFile`) or 4 (failed, and another
 * attempt cannot help).
 */
export async function runStepTask(task: AnyTask, base: TaskContextBase, store: string, executor: Executor): Promise<number> {
  const ctx: TaskContext = taskContext(base);
  try {
    await executor.execute(task, ctx);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof RequirementsPending) {
      await target(requestFile(store, base.runId, task.id)).writeJson({ requires: err.tasks.map(taskSpec) });
      base.logger.info({ requires: err.tasks.map((t) => t.id) }, 'waiting for dynamic requirements; the driver runs them and starts this step again');
      return ExitCode.stepNeedsRequirements;
    }
    base.logger.error({ err }, 'task failed');
    // The driver retries by exit code alone: tell it when the task's own error says another attempt cannot help.
    return errorRetryable(err) ? ExitCode.taskFailed : ExitCode.stepFailedNotRetryable;
  }
}

