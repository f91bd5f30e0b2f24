import type { RunRecord, TaskHistory } from '../../../src/history/run-record';
import type { RunGraph } from '../../../src/tracking/run-graph';

/** What app.js draws: nodes (coloured by status) and edges. */
export interface GraphData {
  readonly nodes: { id: string; label: string; status: string; sub?: string; title?: string; href?: string }[];
  readonly edges: [string, string][];
  readonly grouped: boolean;
  /** `TB` (top to bottom) when the graph is deeper than it is wide (a chain), else `LR`. */
  readonly direction: 'TB' | 'LR';
}

/** Deeper than wide (longest path against the widest level): top to bottom, so a chain fits the window's width. */
export function direction(nodes: readonly { id: string }[], edges: readonly [string, string][]): 'TB' | 'LR' {
  const into = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const [from, to] of edges) into.get(to)?.push(from);
  const level = new Map<string, number>();
  const levelOf = (id: string, seen: Set<string>): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const l = Math.max(-1, ...(into.get(id) ?? []).map((p) => levelOf(p, seen))) + 1;
    level.set(id, l);
    return l;
  };
  const widths = new Map<number, number>();
  for (const n of nodes) {
    const l = levelOf(n.id, new Set());
    widths.set(l, (widths.get(l) ?? 0) + 1);
  }
  return widths.size > Math.max(0, ...widths.values()) ? 'TB' : 'LR';
}

/** Above this many tasks the DAG is drawn one node per family. */
export const groupAbove = 200;

// The colour of a family: the most urgent status among its tasks.
const urgency = ['failed', 'running', 'blocked', 'cancelled', 'pending', 'ran', 'complete'];

function statusOf(t: TaskHistory | undefined): string {
  return t?.status ?? 'pending';
}

/** The run's DAG from its graph file (or, without one, its tasks and no edges), grouped by family when large. */
export function dagData(runId: string, record: RunRecord, graph: RunGraph | undefined): GraphData {
  const byId = new Map(record.tasks.map((t) => [t.id, t]));
  const tasks = graph?.tasks ?? record.tasks.map((t) => ({ id: t.id, family: t.family ?? t.id.split('_')[0], requires: [] as string[] }));
  if (tasks.length <= groupAbove) {
    const edges = tasks.flatMap((t) => t.requires.map((r): [string, string] => [r, t.id]));
    return {
      grouped: false,
      direction: direction(tasks, edges),
      edges,
      nodes: tasks.map((t) => ({ id: t.id, label: t.id.length > 44 ? `${t.id.slice(0, 26)}…${t.id.slice(-17)}` : t.id, status: statusOf(byId.get(t.id)), title: t.id, href: `/runs/${runId}/tasks/${encodeURIComponent(t.id)}` })),
    };
  }
  const family = new Map(tasks.map((t) => [t.id, t.family]));
  const counts = new Map<string, Map<string, number>>();
  for (const t of tasks) {
    const c = counts.get(t.family) ?? new Map<string, number>();
    const s = statusOf(byId.get(t.id));
    c.set(s, (c.get(s) ?? 0) + 1);
    counts.set(t.family, c);
  }
  const edges = new Set<string>();
  for (const t of tasks) for (const r of t.requires) if (family.get(r) !== t.family) edges.add(`${family.get(r)}\0${t.family}`);
  const familyEdges = [...edges].map((e) => e.split('\0') as [string, string]);
  return {
    grouped: true,
    direction: direction([...counts.keys()].map((id) => ({ id })), familyEdges),
    edges: familyEdges,
    nodes: [...counts].map(([f, c]) => {
      const total = [...c.values()].reduce((a, b) => a + b, 0);
      return {
        id: f,
        label: `${f} (${total})`,
        status: urgency.find((s) => c.has(s)) ?? 'pending',
        sub: urgency.filter((s) => c.has(s)).map((s) => `${c.get(s)} ${s}`).join(' · '),
        href: `/runs/${runId}?family=${encodeURIComponent(f)}#tasks`,
      };
    }),
  };
}
