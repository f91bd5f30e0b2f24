import type { DockerClient } from '../container/engine-client';
import { Labels, labelFilter } from '../container/labels';
import { isOrphan, type PruneOptions } from '../container/orphans';

export type { PruneOptions };

export interface PrunedContainer {
  readonly id: string;
  readonly runId: string | undefined;
  readonly taskId: string | undefined;
  readonly state: string;
  readonly removed: boolean;
  readonly error?: string;
}

/**
 * Removes the step containers a crashed or killed flow left behind, found by
 * the `dagwright.managed` label. By default it keeps containers whose owning
 * process (host name and pid labels) still runs on this machine, so a prune
 * never breaks a live run.
 */
export async function pruneContainers(docker: DockerClient, options: PruneOptions = {}): Promise<PrunedContainer[]> {
  const filters = labelFilter(options.runId === undefined ? {} : { [Labels.runId]: options.runId });
  const listed = await docker.listContainers({ all: true, filters });
  const orphans = listed.filter((c) => isOrphan(c.Labels, options));
  return Promise.all(
    orphans.map(async (c): Promise<PrunedContainer> => {
      const base = { id: c.Id.slice(0, 12), runId: c.Labels[Labels.runId], taskId: c.Labels[Labels.taskId], state: c.State };
      if (options.dryRun) return { ...base, removed: false };
      try {
        await docker.getContainer(c.Id).remove({ force: true, v: true });
        return { ...base, removed: true };
      } catch (err) {
        return { ...base, removed: (err as { statusCode?: number }).statusCode === 404, error: (err as Error).message };
      }
    }),
  );
}
