import type { DockerClient } from '../container/engine-client';
import { Labels, labelFilter } from '../container/labels';
import { isOrphan, type PruneOptions } from '../container/orphans';

export interface PrunedService {
  readonly id: string;
  readonly name: string;
  readonly runId: string | undefined;
  readonly taskId: string | undefined;
  readonly removed: boolean;
  readonly error?: string;
}

/** Whether this engine manages a swarm (and so has services to list). */
export async function isSwarmManager(docker: DockerClient): Promise<boolean> {
  const info = (await docker.info()) as { Swarm?: { ControlAvailable?: boolean } };
  return info.Swarm?.ControlAvailable === true;
}

/**
 * Removes the step services a crashed or killed flow left on a Swarm, found
 * by the `dagwright.managed` label. By default it keeps services whose owning
 * process (host name and pid labels) still runs on this machine, and those
 * owned by other machines, so a prune never breaks a live run.
 */
export async function pruneServices(docker: DockerClient, options: PruneOptions = {}): Promise<PrunedService[]> {
  const filters = labelFilter(options.runId === undefined ? {} : { [Labels.runId]: options.runId });
  const listed = (await docker.listServices({ filters })) as { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } }[];
  const orphans = listed.filter((s) => isOrphan(s.Spec?.Labels ?? {}, options));
  return Promise.all(
    orphans.map(async (s): Promise<PrunedService> => {
      const labels = s.Spec?.Labels ?? {};
      const base = { id: s.ID.slice(0, 12), name: s.Spec?.Name ?? '', runId: labels[Labels.runId], taskId: labels[Labels.taskId] };
      if (options.dryRun) return { ...base, removed: false };
      try {
        await docker.getService(s.ID).remove();
        return { ...base, removed: true };
      } catch (err) {
        return { ...base, removed: (err as { statusCode?: number }).statusCode === 404, error: (err as Error).message };
      }
    }),
  );
}
