import { UsageError } from '../errors';
import type { AnyTask } from '../task';

/**
 * What may run at once: `workers` tasks in all, the units of each named pool
 * (a pool without a capacity is unlimited), and per-family limits.
 */
export class Capacity {
  private running = 0;
  private readonly used = new Map<string, number>();
  private readonly groupNeeds = new Map<string, { pools: [string, number][]; family?: string }>();

  constructor(
    private readonly workers: number,
    private readonly pools: Readonly<Record<string, number>> = {},
    private readonly familyLimits: Readonly<Record<string, number>> = {},
  ) {
    for (const [name, n] of [...Object.entries(pools), ...Object.entries(familyLimits)]) {
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`pool or family limit "${name}" got ${n}; expected an integer >= 1.`);
    }
  }

  /** The task's limits as a key: tasks with the same key can start under the same conditions. */
  group(task: AnyTask): string {
    const pools = Object.entries(task.pools ?? {})
      .filter(([name, units]) => units > 0 && name in this.pools)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const family = task.family in this.familyLimits ? task.family : undefined;
    if (pools.length === 0 && family === undefined) return '';
    const key = JSON.stringify([family ?? null, pools]);
    if (!this.groupNeeds.has(key)) this.groupNeeds.set(key, { pools, ...(family === undefined ? {} : { family }) });
    return key;
  }

  /** Why the task can never start here (it needs more of a pool than there is), or undefined. */
  impossible(task: AnyTask): string | undefined {
    for (const [name, units] of Object.entries(task.pools ?? {})) {
      const capacity = this.pools[name];
      if (capacity !== undefined && units > capacity) {
        return `${task.id}: needs ${units} unit(s) of pool "${name}", which has ${capacity}. Raise the pool (--pool ${name}=${units}) or lower the task's pools.`;
      }
    }
    return undefined;
  }

  canStart(group: string): boolean {
    if (this.running >= this.workers) return false;
    if (group === '') return true;
    const needs = this.groupNeeds.get(group)!;
    if (needs.family !== undefined && (this.used.get(`family:${needs.family}`) ?? 0) >= this.familyLimits[needs.family]) return false;
    return needs.pools.every(([name, units]) => (this.used.get(`pool:${name}`) ?? 0) + units <= this.pools[name]);
  }

  acquire(group: string): void {
    this.running++;
    this.change(group, 1);
  }

  release(group: string): void {
    this.running--;
    this.change(group, -1);
  }

  private change(group: string, sign: 1 | -1): void {
    if (group === '') return;
    const needs = this.groupNeeds.get(group)!;
    const add = (key: string, n: number) => this.used.set(key, (this.used.get(key) ?? 0) + sign * n);
    if (needs.family !== undefined) add(`family:${needs.family}`, 1);
    for (const [name, units] of needs.pools) add(`pool:${name}`, units);
  }
}
