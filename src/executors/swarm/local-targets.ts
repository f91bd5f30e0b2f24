import type { TaskGraph } from '../../graph';
import { DirectoryTarget } from '../../targets/directory-target';
import { FileTarget } from '../../targets/file-target';
import { LocalFileSystem } from '../../targets/local-file-system';
import { isS3Uri } from '../../targets/s3-uri';
import type { AnyTask } from '../../task';
import { SwarmLocalStoreError, SwarmLocalTargetsError } from './errors';

/** The task's targets on the local file system (file and directory targets whose `fs` is a `LocalFileSystem`). */
export function localTargetsOf(task: AnyTask): string[] {
  return task
    .outputList()
    .filter((t) => (t instanceof FileTarget || t instanceof DirectoryTarget) && t.fs instanceof LocalFileSystem)
    .map((t) => t.uri);
}

/** Every task of the graph that declares local targets, with those targets; empty when none does. */
export function tasksWithLocalTargets(tasks: Iterable<AnyTask>): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const task of tasks) {
    const local = localTargetsOf(task);
    if (local.length > 0) found[task.id] = local;
  }
  return found;
}

/**
 * What the Swarm executor checks before anything runs: the store is object
 * storage and no task of the graph writes (or reads as its output) a local
 * file. Throws `SwarmLocalStoreError` or `SwarmLocalTargetsError` (usage
 * errors: exit code 2).
 */
export function assertRunnableOnSwarm(store: string | undefined, graph?: TaskGraph): void {
  if (store !== undefined && !isS3Uri(store)) throw new SwarmLocalStoreError(store);
  if (graph === undefined) return;
  const found = tasksWithLocalTargets(graph.order().map((id) => graph.task(id)));
  if (Object.keys(found).length > 0) throw new SwarmLocalTargetsError(found);
}
