import type { AnyTask } from '../task';

interface Entry {
  readonly id: string;
  readonly priority: number;
  readonly seq: number;
}

const before = (a: Entry, b: Entry): boolean => a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);

/** A binary heap: highest priority first, then the order tasks became ready. */
class Heap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(entry: Entry): void {
    const a = this.items;
    a.push(entry);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < a.length && before(a[l], a[best])) best = l;
      if (r < a.length && before(a[r], a[best])) best = r;
      if (best === i) break;
      [a[i], a[best]] = [a[best], a[i]];
      i = best;
    }
    return top;
  }
}

/**
 * Tasks ready to start. Tasks with the same limits (pools and family limit:
 * their `group`) share a heap, so when one cannot start none of its group
 * can, and choosing the next task looks only at each group's head.
 */
export class ReadyQueue {
  private readonly groups = new Map<string, Heap>();
  private seq = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(task: AnyTask, group: string): void {
    let heap = this.groups.get(group);
    if (!heap) this.groups.set(group, (heap = new Heap()));
    heap.push({ id: task.id, priority: task.priority ?? 0, seq: this.seq++ });
    this.count++;
  }

  /** Removes and returns the best task whose group `canStart` accepts, if any. */
  pop(canStart: (group: string) => boolean): string | undefined {
    let best: [string, Entry] | undefined;
    for (const [group, heap] of this.groups) {
      const head = heap.peek();
      if (head && (!best || before(head, best[1])) && canStart(group)) best = [group, head];
    }
    if (!best) return undefined;
    this.groups.get(best[0])!.pop();
    this.count--;
    return best[1].id;
  }

  clear(): string[] {
    const ids: string[] = [];
    for (const heap of this.groups.values()) for (let e = heap.pop(); e; e = heap.pop()) ids.push(e.id);
    this.count = 0;
    return ids;
  }
}
