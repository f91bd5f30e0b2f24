import { hostname } from 'node:os';

/** Labels on every container the Docker executor creates; `prune` finds leftovers by them. */
export const Labels = {
  /** Always "true": dagwright made this container. */
  managed: 'dagwright.managed',
  runId: 'dagwright.run-id',
  taskId: 'dagwright.task-id',
  attempt: 'dagwright.attempt',
  /** One id per executor instance (one flow process). */
  session: 'dagwright.session',
  /** Host name and pid of the process that owns the container: prune keeps those of live processes. */
  ownerHost: 'dagwright.owner-host',
  ownerPid: 'dagwright.owner-pid',
} as const;

export interface ContainerOwner {
  readonly session: string;
  readonly host: string;
  readonly pid: number;
}

export function currentOwner(session: string): ContainerOwner {
  return { session, host: hostname(), pid: process.pid };
}

/** The labels of one attempt's container. */
export function stepLabels(owner: ContainerOwner, runId: string, taskId: string, attempt: number): Record<string, string> {
  return {
    [Labels.managed]: 'true',
    [Labels.runId]: runId,
    [Labels.taskId]: taskId,
    [Labels.attempt]: String(attempt),
    [Labels.session]: owner.session,
    [Labels.ownerHost]: owner.host,
    [Labels.ownerPid]: String(owner.pid),
  };
}

/** A `filters` value for the engine's list calls: containers dagwright manages, optionally narrowed by more labels. */
export function labelFilter(extra: Record<string, string> = {}): string {
  const labels = [`${Labels.managed}=true`, ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)];
  return JSON.stringify({ label: labels });
}
