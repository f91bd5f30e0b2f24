import type { RunRecord, TaskHistory } from '../../../src/history/run-record';
import type { RunGraph } from '../../../src/tracking/run-graph';

/** What app.js draws: nodes (coloured by status) and edges. */
export interface GraphData {
  readonly nodes: { id: string; label: string; status: string; sub?: string; title?: string; href?: string }[];
  readonly edges: [string, string][];
  readonly grouped: boolean;
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
    return {
      grouped: false,
      nodes: tasks.map((t) => ({ id: t.id, label: t.id.length > 36 ? `${t.id.slice(0, 33)}...` : t.id, status: statusOf(byId.get(t.id)), title: t.id, href: `/runs/${runId}/tasks/${encodeURIComponent(t.id)}` })),
      edges: tasks.flatMap((t) => t.requires.map((r): [string, string] => [r, t.id])),
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
  return {
    grouped: true,
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
    edges: [...edges].map((e) => e.split('\0') as [string, string]),
  };
}
