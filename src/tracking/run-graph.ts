import type { Store } from '../store/store';
import { TaskGraph } from '../graph';
import { runFolder, writeUncancelled } from './tracking-files';

/** `<store>/_run-data/<runId>/graph.json`: the run's tasks and what each requires, for drawing its DAG. */
export interface RunGraph {
  readonly format: 'dagwright.graph/1';
  readonly runId: string;
  readonly tasks: readonly { readonly id: string; readonly family: string; readonly requires: readonly string[] }[];
}

/** Writes the run's DAG beside its record; storage trouble is the caller's to log. */
export async function writeRunGraph(store: Store, runId: string, graph: TaskGraph): Promise<void> {
  // A flow's graph may hold only its roots (the planner expands the rest lazily): draw the whole DAG.
  const full = TaskGraph.build(graph.roots);
  const tasks = full.order().map((id) => ({ id, family: full.task(id).family, requires: full.dependencies(id) }));
  const record: RunGraph = { format: 'dagwright.graph/1', runId, tasks };
  const folder = runFolder(store, runId, 'graph.json');
  const fs = folder.fs;
  // runFolder names the file itself: write it through its parent.
  const slash = folder.path.lastIndexOf('/');
  await writeUncancelled({ fs, path: folder.path.slice(0, slash) }, 'graph.json', JSON.stringify(record));
}

/** The run's DAG, or undefined when the run wrote none (runs from before tracking, or `run()` called directly). */
export async function readRunGraph(store: Store, runId: string): Promise<RunGraph | undefined> {
  const { fs, path } = runFolder(store, runId, 'graph.json');
  try {
    if (!(await fs.exists(path))) return undefined;
    return JSON.parse((await fs.read(path)).toString('utf8')) as RunGraph;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
