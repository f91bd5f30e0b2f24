import type { DockerClient } from '../container/engine-client';

interface ListedNode {
  ID: string;
  Description?: { Hostname?: string };
  Status?: { State?: string };
}

/** Node states in which a node runs nothing the manager can follow: its steps are lost. */
const lostStates = new Set(['down', 'unknown', 'disconnected']);

/**
 * The swarm's nodes as the manager sees them, listed at most once per
 * `maxAgeMs` however many steps ask: how a step learns that the node it runs
 * on was lost (its task then stays "running" on the manager's books, since
 * step services are never restarted by Swarm itself).
 */
export class NodeStates {
  private listed: Promise<Map<string, ListedNode>> | undefined;
  private listedAt = 0;

  constructor(
    private readonly docker: DockerClient,
    private readonly maxAgeMs = 1000,
  ) {}

  /** The node's host name and state when the node is lost, else undefined (also when the manager cannot be asked). */
  async lost(nodeId: string): Promise<{ node: string; state: string } | undefined> {
    const now = performance.now();
    if (this.listed === undefined || now - this.listedAt > this.maxAgeMs) {
      this.listedAt = now;
      this.listed = this.docker.listNodes().then(
        (nodes) => new Map((nodes as ListedNode[]).map((n) => [n.ID, n])),
        () => new Map<string, ListedNode>(),
      );
    }
    const node = (await this.listed).get(nodeId);
    const state = node?.Status?.State;
    if (node === undefined || state === undefined || !lostStates.has(state)) return undefined;
    return { node: node.Description?.Hostname ?? nodeId.slice(0, 12), state };
  }
}
