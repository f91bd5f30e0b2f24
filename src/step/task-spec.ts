import { type ParamValue, secretEnvName, secretFromEnv } from '../params';
import { type AnyTask, type TaskClass, taskClasses } from '../task';

/**
 * A task as data (family, non-secret parameters, id), for a task that
 * crosses a process boundary: the step a container runs, the dynamic
 * requirements it hands back. Secrets travel only in environment variables.
 */

/** A task as data: its family and its (non-secret) parameters. */
export interface TaskSpec {
  readonly family: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly id: string;
}

export function taskSpec(task: AnyTask): TaskSpec {
  const specs = (task.constructor as TaskClass).params;
  const params = Object.fromEntries(Object.entries(task.params as Record<string, ParamValue>).filter(([k]) => !specs[k]?.secret));
  return { family: task.family, params, id: task.id };
}

/** Where a secret parameter's value comes from when a spec, which never carries secrets, is made a task again. */
export type SecretSource = (name: string) => ParamValue | undefined;

/** The spec's parameters with the secret ones it lacks: from `secrets`, else from their environment variable. */
function withSecrets(cls: TaskClass, spec: TaskSpec, secrets: SecretSource | undefined, env: NodeJS.ProcessEnv): Record<string, ParamValue> {
  const params = { ...spec.params };
  for (const [name, p] of Object.entries(cls.params ?? {})) {
    if (!p.secret || name in params) continue;
    const given = secrets?.(name);
    const text = given === undefined ? secretFromEnv(spec.family, name, env) : undefined;
    if (given !== undefined) params[name] = given;
    else if (text !== undefined) params[name] = p.parse(spec.family, name, text);
  }
  return params;
}

/**
 * The task a spec describes, or undefined when its class is not loaded here
 * or the id differs (other code, another version), or a secret parameter it
 * needs is neither in `secrets` nor in its environment variable
 * (`DAGWRIGHT_SECRET_<NAME>`).
 */
export function taskFromSpec(spec: TaskSpec, secrets?: SecretSource, env: NodeJS.ProcessEnv = process.env): AnyTask | undefined {
  const cls = taskClasses.find(spec.family);
  if (!cls) return undefined;
  try {
    const task = new (cls as unknown as new (p: object) => AnyTask)(withSecrets(cls, spec, secrets, env));
    return task.id === spec.id ? task : undefined;
  } catch {
    return undefined; // e.g. a secret parameter without default that no source gave
  }
}

/** The secret parameters of `task` in the environment variables a step reads them from (never a command line or a file). */
export function secretEnvironment(task: AnyTask): Record<string, string> {
  const specs = (task.constructor as TaskClass).params ?? {};
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(task.params as Record<string, ParamValue>)) {
    const p = specs[name];
    if (p?.secret && value !== undefined) env[secretEnvName(name)] = p.toText(value as never);
  }
  return env;
}
