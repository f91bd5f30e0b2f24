/**
 * Finding a task class by family, for a task that crosses a process
 * boundary as data (a dynamic requirement a container step asked for,
 * `dagwright run <module> <TaskClass>`): classes constructed in this
 * process, then the exports of every loaded module. It knows nothing of
 * what it holds: the task model gives it the test that tells a task class
 * (as Luigi's task_register.py knows nothing of task.py).
 */

/** A class the registry can hold: its name, and the static family that overrides it. */
export interface FamilyClass {
  readonly name: string;
  readonly family?: string;
}

/** The family of a class: its own static `family`, else its name. */
export function familyOf(cls: FamilyClass): string {
  return Object.hasOwn(cls, 'family') && cls.family ? cls.family : cls.name;
}

export class TaskClassRegistry<C extends FamilyClass> {
  private readonly seen = new Map<string, C>();

  /** `isClass` tells what the registry holds from any other value a module exports. */
  constructor(private readonly isClass: (value: unknown) => value is C) {}

  /** Called for every class constructed (cheap, once per class) and by `registerTaskClasses`. */
  remember(cls: C, family: string = familyOf(cls)): void {
    if (!this.seen.has(family)) this.seen.set(family, cls);
  }

  /** The class of `family`, or undefined when none was remembered and no loaded module exports it. */
  find(family: string): C | undefined {
    const known = this.seen.get(family);
    if (known) return known;
    const cls = this.exported().find((c) => familyOf(c) === family);
    if (cls) this.seen.set(family, cls);
    return cls;
  }

  /** Every class of this kind a loaded module exports (CommonJS: `require.cache`). */
  private exported(): C[] {
    const found: C[] = [];
    for (const mod of Object.values(require.cache)) {
      const exports = mod?.exports as unknown;
      if (this.isClass(exports)) found.push(exports);
      if (typeof exports !== 'object' || exports === null) continue;
      for (const key of Object.keys(exports)) {
        const value = Object.getOwnPropertyDescriptor(exports, key)?.get ? undefined : (exports as Record<string, unknown>)[key];
        if (this.isClass(value)) found.push(value);
      }
    }
    return found;
  }
}
