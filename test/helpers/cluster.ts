/**
 * A multi-node Docker Swarm on one machine, for tests, benchmarks and users
 * who want to try the Swarm path (`.ci/swarm-cluster up`): N hosts (one
 * manager, the rest workers; cluster-hosts.ts), a plain-HTTP image registry
 * (Debian's `docker-registry`) on the manager's host, an image pushed to it
 * (uncompressed, registry-push.ts) and named by digest, and optionally an S3 server (s3rver) bound to the
 * bridge's address so that every host reaches it. Needs root, `ip`,
 * `nsenter`, `unshare`, `dockerd` and `docker-registry`.
 *
 * Nothing here touches the machine's own engine except to read an image from
 * it (`docker save`). `down()` removes everything, also after a failure;
 * SIGINT, SIGTERM and process exit remove it too. No vitest imports.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { pushToRegistry } from './registry-push';
import { startS3Server, type RunningS3Server } from './s3-server';
import {
  destroyHosts,
  type HostState,
  type HostsState,
  killHostProcesses,
  makeNetwork,
  must,
  planHosts,
  staleStates,
  startEngine,
  writeState,
} from './cluster-hosts';

export type { HostState } from './cluster-hosts';

export interface ClusterOptions {
  /** Worker hosts besides the manager; default 2. */
  workers?: number;
  /** An image of this machine's engine to push to the cluster's registry (`imageRef` names it by digest). */
  image?: string;
  /** Start an S3 server on the bridge address with these buckets. */
  s3Buckets?: readonly string[];
  /** Swarm's dispatcher heartbeat: a lost node is marked down a few heartbeats later. Default 2000 ms (Swarm's own: 5 s). */
  heartbeatMs?: number;
  /** Progress lines; default stderr. */
  log?: (line: string) => void;
}

/** Where state folders go, and how they are named (so stale ones can be found). */
const stateRoot = tmpdir();
const statePrefix = 'dwc-';
const registryPort = 5000;

/** Anything that did not answer in time, with what to look at. */
class ClusterStartError extends Error {}

export class Cluster {
  readonly clients = new Map<string, Docker>();
  private readonly nodeIds = new Map<string, string>();
  private released = false;
  s3: RunningS3Server | undefined;
  /** The pushed image by digest, `<registry>/<name>@sha256:...`, when `image` was given. */
  imageRef: string | undefined;

  private constructor(readonly state: HostsState, private readonly log: (line: string) => void) {}

  get hosts(): readonly HostState[] {
    return this.state.hosts;
  }
  get manager(): HostState {
    return this.state.hosts[0];
  }
  get workers(): readonly HostState[] {
    return this.state.hosts.slice(1);
  }
  /** `<manager address>:5000`, the registry every engine may pull from over plain HTTP. */
  get registry(): string {
    return `${this.manager.address}:${registryPort}`;
  }

  /** A client for a host's engine (through its unix socket, from this machine). */
  docker(host: HostState = this.manager): Docker {
    let client = this.clients.get(host.name);
    if (!client) {
      client = new Docker({ socketPath: host.socket });
      this.clients.set(host.name, client);
    }
    return client;
  }

  nodeId(host: HostState): string {
    const id = this.nodeIds.get(host.name);
    if (!id) throw new Error(`${host.name} has no swarm node id yet`);
    return id;
  }

  hostOfNode(nodeId: string): HostState | undefined {
    return this.hosts.find((h) => this.nodeIds.get(h.name) === nodeId);
  }

  /** Makes the cluster; on any failure removes what it made and rethrows. */
  static async up(options: ClusterOptions = {}): Promise<Cluster> {
    const log = options.log ?? ((line: string) => process.stderr.write(`cluster: ${line}\n`));
    for (const stale of staleStates(stateRoot, statePrefix)) {
      log(`removing cluster ${stale.id} left by process ${stale.ownerPid}, which no longer runs`);
      destroyHosts(stale);
    }
    const id = randomBytes(2).toString('hex');
    const dir = mkdtempSync(join(stateRoot, `${statePrefix}${id}-`));
    const state = planHosts(id, dir, 1 + (options.workers ?? 2));
    writeState(state);
    const cluster = new Cluster(state, log);
    cluster.guardProcess();
    try {
      await cluster.start(options);
      return cluster;
    } catch (err) {
      await cluster.down();
      throw err;
    }
  }

  private async start(options: ClusterOptions): Promise<void> {
    const t0 = performance.now();
    makeNetwork(this.state);
    this.startRegistry();
    for (const h of this.hosts) startEngine(h, this.registry);
    await Promise.all(this.hosts.map((h) => this.waitForEngine(h)));
    this.log(`${this.hosts.length} engines answer on ${this.state.prefix}.0/24 (${Math.round(performance.now() - t0)} ms)`);
    await this.formSwarm(options.heartbeatMs ?? 2000);
    await this.waitForRegistry();
    if (options.image) this.imageRef = await this.pushImage(options.image);
    if (options.s3Buckets) this.s3 = await startS3Server(options.s3Buckets, { address: this.state.bridgeAddress });
    this.log(`ready in ${Math.round(performance.now() - t0)} ms: manager ${this.manager.address}, registry ${this.registry}`);
  }

  private startRegistry(): void {
    const config = join(this.state.dir, 'registry.yml');
    // No auth, no TLS: it listens only on the test bridge, which nothing outside this machine can reach.
    writeFileSync(
      config,
      ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${join(this.state.scratch, 'registry')}`, 'http:', `  addr: ${this.registry}`, ''].join('\n'),
    );
    const out = openSync(join(this.state.dir, 'registry.log'), 'a');
    spawn('nsenter', [`--net=/var/run/netns/${this.manager.netns}`, 'docker-registry', 'serve', config], { detached: true, stdio: ['ignore', out, out] }).unref();
  }

  private async waitForRegistry(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://${this.registry}/v2/`).then((r) => r.ok, () => false);
      if (ok) return;
      await sleep(100);
    }
    throw new ClusterStartError(`the registry on ${this.registry} did not answer within 10 s; see ${join(this.state.dir, 'registry.log')}`);
  }

  async waitForEngine(h: HostState, timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const ok = await this.docker(h).ping().then(() => true, () => false);
      if (ok) return;
      await sleep(100);
    }
    throw new ClusterStartError(`the engine of ${h.name} did not answer within ${timeoutMs / 1000} s; see ${join(h.dir, 'dockerd.log')}`);
  }

  /** `swarm init` on the manager (address pools in 198.19.0.0/16, not a private range), `swarm join` from each worker. */
  private async formSwarm(heartbeatMs: number): Promise<void> {
    const m = this.manager;
    await this.docker(m).swarmInit({
      ListenAddr: `${m.address}:2377`,
      AdvertiseAddr: m.address,
      DefaultAddrPool: ['198.19.0.0/17'],
      SubnetSize: 24,
      Spec: { Dispatcher: { HeartbeatPeriod: heartbeatMs * 1e6 } },
    });
    const swarm = (await this.docker(m).swarmInspect()) as { JoinTokens: { Worker: string } };
    await Promise.all(
      this.workers.map((w) =>
        this.docker(w).swarmJoin({ ListenAddr: `${w.address}:2377`, AdvertiseAddr: w.address, RemoteAddrs: [`${m.address}:2377`], JoinToken: swarm.JoinTokens.Worker }),
      ),
    );
    for (const h of this.hosts) {
      const info = (await this.docker(h).info()) as { Swarm: { NodeID: string } };
      this.nodeIds.set(h.name, info.Swarm.NodeID);
    }
    await this.waitForNodes('ready', this.hosts);
  }

  /** Waits until every host in `hosts` has the node state `state` as the manager sees it. */
  async waitForNodes(state: 'ready' | 'down', hosts: readonly HostState[], timeoutMs = 60_000): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const nodes = (await this.docker().listNodes()) as { ID: string; Status?: { State?: string } }[];
      const states = new Map(nodes.map((n) => [n.ID, n.Status?.State]));
      if (hosts.every((h) => states.get(this.nodeId(h)) === state)) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) {
        throw new ClusterStartError(`nodes not ${state} after ${timeoutMs / 1000} s: ${hosts.map((h) => `${h.name}=${states.get(this.nodeId(h))}`).join(', ')}`);
      }
      await sleep(200);
    }
  }

  /** Pushes `image` of this machine's engine to the registry (registry-push.ts); returns it by digest. */
  private async pushImage(image: string): Promise<string> {
    const t0 = performance.now();
    const name = image.replace(/:[^/:]+$/, '');
    const tag = name === image ? 'latest' : image.slice(name.length + 1);
    const ref = await pushToRegistry(image, this.registry, name, tag);
    this.log(`pushed ${image} as ${ref} (${Math.round(performance.now() - t0)} ms)`);
    return ref;
  }

  /** Adds node labels (for placement constraints) to a host's node. */
  async labelNode(h: HostState, labels: Record<string, string>): Promise<void> {
    const node = this.docker().getNode(this.nodeId(h));
    const spec = (await node.inspect()) as { Version: { Index: number }; Spec: { Labels?: Record<string, string> } & Record<string, unknown> };
    await node.update({ version: spec.Version.Index, ...spec.Spec, Labels: { ...spec.Spec.Labels, ...labels } });
  }

  /**
   * The host is lost, as a machine that loses power: its link is cut and every process in it (engine,
   * containerd, containers) is killed at once, so nothing it ran can write anything afterwards.
   */
  loseHost(h: HostState): void {
    must('ip', ['link', 'set', h.veth, 'down']);
    killHostProcesses(h);
    this.clients.delete(h.name);
  }

  /** Stops the host's engine (SIGTERM, as a service manager does) and starts it again with the same state. */
  async restartEngine(h: HostState): Promise<void> {
    const pid = Number(must('cat', [join(h.dir, 'pid')]).trim());
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    this.clients.delete(h.name);
    startEngine(h, this.registry);
    await this.waitForEngine(h);
  }

  /** Removes everything the cluster made; idempotent. */
  async down(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.s3?.close().catch(() => {});
    destroyHosts(this.state);
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  private readonly onExit = () => {
    if (!this.released) destroyHosts(this.state);
  };
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.log(`${signal}: removing cluster ${this.state.id}`);
    this.onExit();
    this.released = true;
    process.kill(process.pid, signal);
  };

  private guardProcess(): void {
    process.on('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin'];
  return dirs.some((d) => d !== '' && existsSync(join(d, tool)));
}

/** Why a cluster cannot be made here (not root, a tool missing), or undefined when it can. */
export function clusterProblem(): string | undefined {
  if (process.platform !== 'linux') return `a cluster needs Linux network namespaces (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'a cluster needs root (network namespaces, veth links, engines of its own)';
  const missing = [
    ['ip', 'iproute2'],
    ['nsenter', 'util-linux'],
    ['unshare', 'util-linux'],
    ['dockerd', 'docker.io'],
    ['docker-registry', 'docker-registry'],
  ].filter(([tool]) => !onPath(tool));
  if (missing.length > 0) return `missing ${missing.map(([t]) => t).join(', ')}: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')}`;
  return undefined;
}

/** Removes clusters whose processes are gone (what `.ci/swarm-cluster down` does). */
export function removeStaleClusters(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const stale = staleStates(stateRoot, statePrefix);
  for (const s of stale) {
    log(`removing cluster ${s.id} (${s.dir}) left by process ${s.ownerPid}`);
    destroyHosts(s);
  }
  return stale.length;
}
