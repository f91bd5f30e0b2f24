import { type ParamValue, secretEnvName } from './params';
import { type AnyTask, Task, type TaskClass } from './task';

/**
 * Finding a task class by family, for a task that crosses a process
 * boundary as data (a dynamic requirement a container step asked for,
 * `dagwright run <module> <TaskClass>`): classes constructed in this
 * process, then the exports of every loaded module.
 */
const seen = new Map<string, TaskClass>();

/** Called by the Task constructor: cheap, once per class. */
export function rememberTaskClass(cls: TaskClass, family: string): void {
  if (!seen.has(family)) seen.set(family, cls);
}

/**
 * Makes task classes findable by family before any is constructed: needed
 * for a class a step may ask for dynamically when modules are not loaded
 * through CommonJS `require` (ES modules, or a test runner's own loader),
 * whose exports cannot be searched.
 */
export function registerTaskClasses(...classes: TaskClass[]): void {
  for (const cls of classes) rememberTaskClass(cls, familyOf(cls));
}

export function isTaskClass(value: unknown): value is TaskClass {
  return typeof value === 'function' && value.prototype instanceof Task;
}

export function familyOf(cls: TaskClass): string {
  return Object.hasOwn(cls, 'family') && cls.family ? cls.family : cls.name;
}

/** Every task class a loaded module exports (CommonJS: `require.cache`). */
function exportedTaskClasses(): TaskClass[] {
  const found: TaskClass[] = [];
  for (const mod of Object.values(require.cache)) {
    const exports = mod?.exports as unknown;
    if (isTaskClass(exports)) found.push(exports);
    if (typeof exports !== 'object' || exports === null) continue;
    for (const key of Object.keys(exports)) {
      const value = Object.getOwnPropertyDescriptor(exports, key)?.get ? undefined : (exports as Record<string, unknown>)[key];
      if (isTaskClass(value)) found.push(value);
    }
  }
  return found;
}

/** The task class of `family`, or undefined when no loaded module exports it. */
export function findTaskClass(family: string): TaskClass | undefined {
  const known = seen.get(family);
  if (known) return known;
  const cls = exportedTaskClasses().find((c) => familyOf(c) === family);
  if (cls) seen.set(family, cls);
  return cls;
}

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
    const text = env[secretEnvName(name)];
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
  const cls = findTaskClass(spec.family);
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
