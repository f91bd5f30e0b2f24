import type { ParamValue } from './params';
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

/** The task a spec describes, or undefined when its class is not loaded here or the id differs (other code, another version). */
export function taskFromSpec(spec: TaskSpec): AnyTask | undefined {
  const cls = findTaskClass(spec.family);
  if (!cls) return undefined;
  try {
    const task = new (cls as unknown as new (p: object) => AnyTask)(spec.params);
    return task.id === spec.id ? task : undefined;
  } catch {
    return undefined; // e.g. a secret parameter without default, which specs never carry
  }
}
