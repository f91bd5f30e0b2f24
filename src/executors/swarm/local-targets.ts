import type { TaskGraph } from '../../graph';
import { type Store, toStore } from '../../store/store';
import { tasksWithLocalTargets } from '../container/local-targets';
import { SwarmLocalStoreError, SwarmLocalTargetsError } from './errors';

/**
 * What the Swarm executor checks before anything runs: the store is remote
 * (object storage) and no task of the graph writes (or reads as its output) a
 * local file. Throws `SwarmLocalStoreError` or `SwarmLocalTargetsError`
 * (usage errors: exit code 2).
 */
export function assertRunnableOnSwarm(store: Store | string | undefined, graph?: TaskGraph): void {
  if (store !== undefined) {
    const parsed = toStore(store);
    if (parsed.local) throw new SwarmLocalStoreError(parsed.uri);
  }
  if (graph === undefined) return;
  const found = tasksWithLocalTargets(graph.order().map((id) => graph.task(id)));
  if (Object.keys(found).length > 0) throw new SwarmLocalTargetsError(found);
}
