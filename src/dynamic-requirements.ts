import { describeValue, InvalidRequirementError } from './errors';
import { type AnyTask, flatten, type InputOf, outputsOf, type Requirements, Task, type TaskContext } from './task';

/**
 * Thrown by `ctx.require()` when some requested tasks are not complete: the
 * attempt is suspended, not failed. The scheduler runs `tasks`, then starts
 * the task again. Executors that run a step elsewhere carry it back (see
 * src/step/requests.ts).
 */
export class RequirementsPending extends Error {
  readonly retryable = false;
  constructor(
    readonly taskId: string,
    readonly tasks: readonly AnyTask[],
  ) {
    super(`${taskId}: waits for ${tasks.length} dynamic requirement(s): ${tasks.map((t) => t.id).join(', ')}`);
    this.name = 'RequirementsPending';
  }
}

/** The requested tasks as a flat, checked list. */
export function requestedTasks(taskId: string, tasks: Requirements): AnyTask[] {
  const list = flatten(tasks);
  for (const item of list) if (!(item instanceof Task)) throw new InvalidRequirementError(taskId, describeValue(item));
  return list as AnyTask[];
}

/**
 * `ctx.require` for one attempt. `pending` remembers what was requested and
 * not complete, so the attempt counts as suspended even when the task caught
 * the `RequirementsPending` it threw.
 */
export function dynamicRequire(taskId: string): { require: TaskContext['require']; pending: () => AnyTask[] } {
  const waiting = new Map<string, AnyTask>();
  const require = async <R extends Requirements>(tasks: R): Promise<InputOf<R>> => {
    const list = requestedTasks(taskId, tasks);
    const done = await Promise.all(list.map((t) => t.complete()));
    const missing = list.filter((_, i) => !done[i]);
    if (missing.length === 0) return outputsOf(tasks);
    for (const t of missing) waiting.set(t.id, t);
    throw new RequirementsPending(taskId, missing);
  };
  return { require, pending: () => [...waiting.values()] };
}
