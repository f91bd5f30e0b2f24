import type { Logger } from 'pino';
import { RequirementsPending } from '../dynamic-requirements';
import { UsageError } from '../errors';
import { type AnyTask, type TaskClass, taskClasses } from '../task';
import { secretEnvName, type ParamValue } from '../params';
import { type SecretSource, secretEnvironment, type TaskSpec, taskFromSpec, taskSpec } from './task-spec';
import { storePath, target } from '../targets/uri';

/**
 * The driver's side of a step run elsewhere (a container, a Swarm service):
 * the environment that lets the step find its task at once, and the dynamic
 * requirements a step asked for before it exited with
 * `ExitCode.stepNeedsRequirements`. Executors call these; the step's side is
 * step-task.ts.
 */

/** The environment variable carrying the step's task as data (family, parameters, id). */
export const taskSpecEnv = 'DAGWRIGHT_TASK_SPEC';

/** The environment a step needs to find its task at once, secret parameters included (executors add it to the step's environment). */
export function stepTaskEnv(task: AnyTask): Record<string, string> {
  return { [taskSpecEnv]: JSON.stringify(taskSpec(task)), ...secretEnvironment(task) };
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
  // A request file never carries secrets: a requested task gets the requester's secret of the same name, or its environment variable.
  const secrets = secretsOf(task);
  const requesterSecrets: SecretSource = (name) => (secrets.has(name) ? (task.params as Record<string, ParamValue>)[name] : undefined);
  const tasks = requires.map((spec) => taskFromSpec(spec, requesterSecrets) ?? throwUnmade(task, spec));
  return new RequirementsPending(task.id, tasks);
}

/** The names of the secret parameters of a task (or of the class of a family). */
function secretsOf(taskOrFamily: AnyTask | string): Set<string> {
  const cls = typeof taskOrFamily === 'string' ? taskClasses.find(taskOrFamily) : (taskOrFamily.constructor as TaskClass);
  return new Set(Object.entries(cls?.params ?? {}).filter(([, p]) => p.secret).map(([name]) => name));
}

/** Why a requested task could not be made on the driver's side: its class is not loaded here, or a secret it needs is nowhere. */
function throwUnmade(task: AnyTask, spec: TaskSpec): never {
  if (!taskClasses.find(spec.family)) {
    throw new UsageError(
      `${task.id}: requested ${spec.id}, whose class ${spec.family} no module loaded by the flow exports. ` +
        'Export the class from a module the flow script imports (or, with ES modules, call registerTaskClasses(YourClass) in the flow script).',
    );
  }
  const missing = [...secretsOf(spec.family)].filter((name) => !(name in spec.params));
  const why = missing.length === 0 ? 'its parameters no longer make the same task' : `no secret ${missing.join(', ')} for it: a request file carries no secrets`;
  const fix = missing.length === 0 ? '' : `; give the requesting task a secret parameter of the same name, or set ${missing.map(secretEnvName).join(', ')} in the flow's environment`;
  throw new UsageError(`${task.id}: requested ${spec.id}, which could not be made here (${why})${fix}.`);
}
