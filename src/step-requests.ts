import type { Logger } from 'pino';
import { RequirementsPending } from './dynamic-requirements';
import { UsageError } from './errors';
import type { AnyTask } from './task';
import { type TaskSpec, taskFromSpec, taskSpec } from './task-classes';
import { storePath, target } from './targets/uri';

/**
 * The driver's side of a step run elsewhere (a container, a Swarm service):
 * the environment that lets the step find its task at once, and the dynamic
 * requirements a step asked for before it exited with
 * `stepNeedsRequirementsExitCode`. Executors call these; the step's side is
 * flow/step-task.ts.
 */

/** A `--run-task` step exits with this when it waits for dynamic requirements (`ExitCode.stepNeedsRequirements`). */
export const stepNeedsRequirementsExitCode = 3;

/** The environment variable carrying the step's task as data (family, parameters, id). */
export const taskSpecEnv = 'DAGWRIGHT_TASK_SPEC';

/** The environment a step needs to find its task at once (executors add it to the step's environment). */
export function stepTaskEnv(task: AnyTask): Record<string, string> {
  return { [taskSpecEnv]: JSON.stringify(taskSpec(task)) };
}

/** Where a step writes the dynamic requirements it waits for. */
export function requestFile(store: string, runId: string, taskId: string): string {
  return storePath(store, '_dagwright', 'requests', runId, `${taskId}.json`);
}

/**
 * The driver's side: after a step exited with 3, the tasks it asked for, as
 * a `RequirementsPending` for the scheduler to throw. A requested task whose
 * class is not exported by any module loaded here cannot be made: a
 * `UsageError` naming it.
 */
export async function stepRequirements(store: string, runId: string, task: AnyTask, logger?: Logger): Promise<RequirementsPending> {
  const file = target(requestFile(store, runId, task.id));
  const { requires } = await file.readJson<{ requires: TaskSpec[] }>();
  await file.remove().catch((err: unknown) => logger?.debug({ err }, 'could not remove a request file'));
  const tasks = requires.map((spec) => {
    const made = taskFromSpec(spec);
    if (!made) {
      throw new UsageError(
        `${task.id}: requested ${spec.id}, whose class ${spec.family} no module loaded by the flow exports. Export the class from a module the flow script imports.`,
      );
    }
    return made;
  });
  return new RequirementsPending(task.id, tasks);
}
