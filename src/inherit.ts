/**
 * Parameter inheritance, as Luigi's `@inherits`, `@requires` and `clone()`:
 * a task that needs another task with the same parameters declares them
 * once (`inherits`) and builds the required task from its own values
 * (`clone`), instead of repeating every parameter by hand.
 */
import { UsageError } from './errors';
import type { Param, ParamSpecs } from './params';
import type { AnyTask, TaskClass } from './task';

type SpecsOf<C> = C extends { readonly params: infer S } ? S : never;
type Merged<C extends readonly unknown[]> = C extends readonly [infer Head, ...infer Rest] ? SpecsOf<Head> & Merged<Rest> : unknown;

/** Whether two declarations of one name mean the same parameter. */
function sameParam(a: Param, b: Param): boolean {
  return a === b || (a.expected === b.expected && a.default === b.default && a.significant === b.significant && a.secret === b.secret);
}

/**
 * The parameters of `classes`, merged, to spread into a class's own
 * `static params` (`{ ...inherits(Prepare, Split), epochs: param.int() }`).
 * A name two classes declare differently is refused, naming both.
 */
export function inherits<const C extends readonly Pick<TaskClass, 'params' | 'name'>[]>(...classes: C): Merged<C> {
  const merged: Record<string, Param> = {};
  const from: Record<string, string> = {};
  for (const cls of classes) {
    for (const [name, spec] of Object.entries(cls.params)) {
      if (merged[name] !== undefined && !sameParam(merged[name], spec)) {
        throw new UsageError(`inherits(): parameter "${name}" is ${merged[name].expected} in ${from[name]} but ${spec.expected} in ${cls.name} (or their defaults differ); rename one of them.`);
      }
      merged[name] ??= spec;
      from[name] ??= cls.name;
    }
  }
  return merged as Merged<C>;
}

/** The constructor parameters of a task class. */
type ParamsOfClass<C> = C extends new (params: infer P) => AnyTask ? NonNullable<P> : never;

/**
 * Luigi's `clone()`: an instance of `cls` with the values `from` has for
 * the parameters `cls` declares, and `overrides` on top. Parameters of
 * `from` that `cls` does not declare are left out; one `cls` needs that
 * neither gives fails as any missing parameter does, naming it.
 */
export function clone<C extends TaskClass>(from: { readonly params: object }, cls: C, overrides: Partial<ParamsOfClass<C>> = {}): InstanceType<C> {
  const specs: ParamSpecs = cls.params;
  const own = from.params as Record<string, unknown>;
  const values = Object.fromEntries(Object.keys(specs).filter((name) => name in own).map((name) => [name, own[name]]));
  const make = cls as unknown as new (params: object) => InstanceType<C>;
  return new make({ ...values, ...overrides });
}
