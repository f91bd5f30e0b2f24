/**
 * The simulated month's parts with the model server in a Docker container
 * (`flows/operate.ts --server docker`): the container deployment serving
 * uses (tasks/serving/deploy/docker-deployment.ts: host network, bound to
 * 127.0.0.1, the invoking uid:gid, the store bind-mounted at its own path),
 * routine flows in this process as in operate-inprocess.ts, traffic over
 * HTTP to the container's port. The container is removed at the end.
 */
import Docker from 'dockerode';
import type { Logger } from 'pino';
import type { ImageBatch } from '../tasks/drift/sources/image-batch';
import { type DeployedServer, ensureDockerServer, removeDockerServers, serverContainers } from '../tasks/serving/deploy/docker-deployment';
import { freeLoopbackPort } from './drift-demo';
import { InProcessParts } from './operate-inprocess';
import { MODEL, type OperateParts, type Routine, SERVER, type SentSlice, sleep } from './operate-parts';
import { sendToLiveServer } from './operate-traffic';

export class DockerServerParts implements OperateParts {
  private readonly docker = new Docker();
  private readonly routines: InProcessParts;
  private port: Promise<number> | undefined;
  /** The container started, once it serves. */
  deployed: DeployedServer | undefined;

  constructor(
    private readonly store: string,
    private readonly logger: Logger,
  ) {
    this.routines = new InProcessParts(store, logger);
  }

  runRoutine(routine: Routine, args: readonly string[]): Promise<void> {
    return this.routines.runRoutine(routine, args);
  }

  /** SIGINT/SIGTERM while the container runs: removed first (it would otherwise restart with the engine), then exit. */
  private readonly onSignal = (signal: NodeJS.Signals) => {
    void this.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };

  /** The container, started on the first call; resolves to its port. */
  private started(): Promise<number> {
    this.port ??= (async () => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, this.onSignal);
      const port = await freeLoopbackPort(); // the container binds it on the host network
      this.deployed = await ensureDockerServer(this.docker, { store: this.store, model: MODEL, alias: 'champion', port, pollMs: SERVER.pollMs, logChunkSeconds: SERVER.chunkMaxAgeMs / 1000 }, this.logger);
      return port;
    })();
    return this.port;
  }

  private async servedVersion(url: string): Promise<number | undefined> {
    const response = await fetch(`${url}/v2/models/${MODEL}/ready`).catch(() => undefined);
    if (!response?.ok) return undefined;
    return Number(((await response.json()) as { version?: string }).version);
  }

  /** The container follows the alias within its poll interval. */
  async awaitVersion(version: number): Promise<void> {
    const url = `http://127.0.0.1:${await this.started()}`;
    const deadline = Date.now() + 60_000;
    for (let served = await this.servedVersion(url); served !== version; served = await this.servedVersion(url)) {
      if (Date.now() > deadline) throw new Error(`the server container still serves version ${served} 60 s after champion moved to ${version}`);
      await sleep(100);
    }
  }

  async sendSlice(day: number, offset: number, slice: ImageBatch): Promise<SentSlice> {
    return sendToLiveServer(this.store, `http://127.0.0.1:${await this.started()}`, day, offset, slice);
  }

  /** Removes the container (its prediction log is flushed on SIGTERM first). */
  async stop(): Promise<void> {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, this.onSignal);
    if (this.port === undefined) return;
    const port = await this.port.catch(() => undefined);
    if (port === undefined) return;
    for (const c of await serverContainers(this.docker, port).catch(() => [])) await this.docker.getContainer(c.Id).stop({ t: 30 }).catch(() => undefined);
    await removeDockerServers(this.docker, port);
  }
}
