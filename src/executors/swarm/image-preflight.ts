import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { TaskGraph } from '../../graph';
import { ContainerTask } from '../container/container-task';
import type { DockerClient } from '../container/engine-client';
import { SwarmImagePullError } from './errors';

/** A node the scheduler may place steps on: ready and active (not drained, not paused, not down). */
interface SwarmNode {
  ID: string;
  Description?: { Hostname?: string };
  Spec?: { Availability?: string };
  Status?: { State?: string };
}

interface ProbeTask {
  NodeID?: string;
  CreatedAt?: string;
  Status?: { State?: string; Err?: string };
}

async function schedulableNodes(docker: DockerClient): Promise<SwarmNode[]> {
  return ((await docker.listNodes()) as SwarmNode[]).filter((n) => n.Status?.State === 'ready' && (n.Spec?.Availability ?? 'active') === 'active');
}

/** The probe's command: never found, so a node that got the image fails at start and nothing of the image runs. */
const probeCommand = ['/dagwright-pull-check-runs-nothing'];

/** States a probe task ends in; `rejected` is Swarm's word for "could not prepare the container", here: no image. */
const settled = new Set(['running', 'complete', 'failed', 'rejected', 'shutdown', 'orphaned']);

/** True when an image reference names its registry (`host.name/...`, `host:port/...`, `localhost/...`). */
function namesRegistry(image: string): boolean {
  const first = image.split('/')[0];
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

/**
 * `image` by digest, so that every node runs the same bits and none asks a
 * registry again: a reference that already has a digest is kept; a tag in a
 * named registry is resolved by the manager's engine (`GET
 * /distribution/<image>/json`); any other, on a swarm whose only node is the
 * manager, is pinned to the manager's copy (`localPin`). Otherwise, or when
 * the registry does not answer, the reference is kept as given (the pull
 * check then tells whether the nodes can get it): on several nodes each may
 * hold its own build under that tag.
 */
export async function pinnedImage(docker: DockerClient, image: string): Promise<string> {
  if (image.includes('@sha256:')) return image;
  if (!namesRegistry(image)) return (await managerOnly(docker)) ? ((await localPin(docker, image)) ?? image) : image;
  try {
    const info = await docker.getImage(image).distribution();
    const digest = info.Descriptor?.digest;
    return digest ? `${image}@${digest}` : image;
  } catch {
    return image;
  }
}

/** Whether the swarm has one node, the manager we talk to. */
async function managerOnly(docker: DockerClient): Promise<boolean> {
  return ((await docker.listNodes().catch(() => [])) as SwarmNode[]).length === 1;
}

/** A reference's repository: the name without its tag. */
function repositoryOf(image: string): string {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(0, colon) : image;
}

/**
 * The manager's copy of `image` as a reference Swarm does not pull: its
 * digest in the registry it came from (`RepoDigests`), or, for an image
 * built here that no registry holds, its ID. Swarm's agent pulls a tag for
 * every task it starts (a failed pull only logged); for an image built
 * here that pull can only fail, slowly without DNS, or fetch somebody
 * else's image of that name. Undefined when the manager has no copy, or one
 * known to registries under other names only.
 */
async function localPin(docker: DockerClient, image: string): Promise<string | undefined> {
  const info = (await docker.getImage(image).inspect().catch(() => undefined)) as { Id?: string; RepoDigests?: string[] } | undefined;
  if (info?.Id === undefined) return undefined;
  const digests = info.RepoDigests ?? [];
  if (digests.length === 0) return info.Id;
  const digest = digests.find((d) => d.startsWith(`${repositoryOf(image)}@`));
  return digest && `${image}@${digest.slice(digest.indexOf('@') + 1)}`;
}

export interface PullCheckOptions {
  /** Labels put on the probe service (the executor's session, so prune finds a leftover). */
  readonly labels: Readonly<Record<string, string>>;
  /** How long all nodes together may take to pull; default 10 minutes. */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

/**
 * Checks, before any step runs, that every node that may run steps can get
 * `image`: a global service of that image (one task a node, a command that is
 * never found, restarted never) makes each node pull it; a node whose task
 * is rejected could not. Throws `SwarmImagePullError` naming those nodes and
 * the image. Skipped on a one-node swarm whose engine already has the image.
 * The nodes keep the image, so steps then start without a pull.
 */
export async function assertNodesCanPull(docker: DockerClient, image: string, options: PullCheckOptions): Promise<void> {
  const nodes = await schedulableNodes(docker);
  if (nodes.length === 0) return;
  if (nodes.length === 1 && (await docker.getImage(image).inspect().then(() => true, () => false))) return;
  const created = (await docker.createService(probeService(image, options.labels) as unknown as Docker.CreateServiceOptions)) as { id?: string; ID?: string };
  const serviceId = (created.id ?? created.ID)!;
  try {
    const tasks = await settledTasks(docker, serviceId, nodes, options.timeoutMs ?? 600_000, options.pollMs ?? 250);
    const failed = nodes
      .map((n) => ({ node: n.Description?.Hostname ?? n.ID.slice(0, 12), task: tasks.get(n.ID) }))
      .filter(({ task }) => task === undefined || task.Status?.State === 'rejected')
      .map(({ node, task }) => ({ node, reason: task?.Status?.Err || 'did not finish pulling in time' }));
    if (failed.length > 0) throw new SwarmImagePullError(image, failed);
  } finally {
    await docker.getService(serviceId).remove().catch(() => {});
  }
}

function probeService(image: string, labels: Readonly<Record<string, string>>): object {
  return {
    Name: `dw-pull-check-${randomBytes(4).toString('hex')}`,
    Labels: { ...labels, 'dagwright.pull-check': image.slice(0, 200) },
    TaskTemplate: {
      ContainerSpec: { Image: image, Command: probeCommand, Labels: { ...labels }, CapabilityDrop: ['ALL'] },
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Networks: [{ Target: 'host' }],
    },
    Mode: { Global: {} },
  };
}

/** Each node's latest probe task once every node's has settled, or what there is when `timeoutMs` has passed. */
async function settledTasks(docker: DockerClient, serviceId: string, nodes: readonly SwarmNode[], timeoutMs: number, pollMs: number): Promise<Map<string, ProbeTask>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const tasks = (await docker.listTasks({ filters: JSON.stringify({ service: [serviceId] }) })) as ProbeTask[];
    const latest = new Map<string, ProbeTask>();
    for (const t of tasks) {
      const seen = t.NodeID ? latest.get(t.NodeID) : undefined;
      if (t.NodeID && (!seen || (seen.CreatedAt ?? '') < (t.CreatedAt ?? ''))) latest.set(t.NodeID, t);
    }
    const done = nodes.every((n) => settled.has(latest.get(n.ID)?.Status?.State ?? ''));
    if (done || performance.now() > deadline) {
      for (const [id, t] of latest) if (!settled.has(t.Status?.State ?? '')) latest.delete(id);
      return latest;
    }
    await sleep(pollMs);
  }
}

/** Every image the graph's steps run in: a ContainerTask's own, a task's `resources.image`, else `defaultImage`. */
export function imagesOf(graph: TaskGraph | undefined, defaultImage: string): string[] {
  const images = new Set<string>();
  if (graph === undefined) return [defaultImage];
  for (const id of graph.order()) {
    const task = graph.task(id);
    images.add((task instanceof ContainerTask ? task.image() : task.resources?.image) ?? defaultImage);
  }
  return [...images];
}
