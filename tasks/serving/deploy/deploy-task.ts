/**
 * A task that makes sure a model server runs and is ready at the version
 * its alias names. It is complete when the server on host:port answers
 * ready for exactly that version (and, for Docker and Swarm, runs the
 * current image and settings; a Swarm service must not be mid-update or
 * rolled back), so a flow re-run after the alias moves does nothing while
 * the server has swapped by itself, and redeploys when it has not.
 *
 * - `target: 'docker'`: a long-running container (see docker-deployment.ts).
 * - `target: 'swarm'`: a replicated Swarm service, rolled over one task at a
 *   time when its image or settings change (see swarm-deployment.ts).
 * - `target: 'in-process'`: a `ModelServer` in the flow's own process, kept
 *   in `embeddedServer` for the script to run in the foreground (flows/deploy.ts).
 *
 * The bearer token comes from DAGWRIGHT_SERVE_TOKEN, never from a parameter
 * (parameters are logged and recorded in the run history).
 */
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { type AnyTask, param, type Requirements, type Target, Task, type TaskContext, type TaskResources } from '../../../src';
import { DEFAULT_MODEL_NAME, ModelRegistry } from '../../registry/registry';
import { DEFAULT_BATCHING } from '../runtime/adaptive-batcher';
import { ensureDockerServer, runningServerSettings } from './docker-deployment';
import { DEFAULT_ALIAS, ModelServer, TOKEN_ENV } from '../model-server';
import { SERVER_IMAGE } from './server-deployment-spec';
import { ensureSwarmServer, type SwarmServerSpec, swarmServerCurrent } from './swarm-deployment';
import { ServerStartTimeoutError } from '../errors';

export interface DeployParams {
  store: string;
  model?: string;
  alias?: string;
  target?: 'in-process' | 'docker' | 'swarm';
  host?: string;
  port?: number;
  image?: string;
  replicas?: number;
  everyNode?: boolean;
  maxBatchSize?: number;
  maxWaitMs?: number;
  pollMs?: number;
  logChunkSeconds?: number;
}

/** Asks a server whether it serves `model` at `version`. Never throws. */
export async function serverReadyAt(url: string, model: string, version: number, token?: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v2/models/${encodeURIComponent(model)}/versions/${version}/ready`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(2000),
    });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** "The server on host:port answers ready with the version the alias names" (and for Docker and Swarm: with current settings). */
class ServerReadyTarget implements Target {
  constructor(private readonly task: DeployModelServer) {}

  get uri(): string {
    return `${this.task.url}/v2/models/${this.task.params.model}/ready`;
  }

  async exists(): Promise<boolean> {
    const { model, alias, store, target } = this.task.params;
    let version: number;
    try {
      version = (await new ModelRegistry(store, model).resolve(alias)).version;
    } catch {
      return false;
    }
    if (!(await serverReadyAt(this.task.url, model, version, process.env[TOKEN_ENV]))) return false;
    if (target === 'docker') return (await runningServerSettings(new Docker(), this.task.deploymentSpec)).current;
    return target !== 'swarm' || (await swarmServerCurrent(new Docker(), this.task.deploymentSpec));
  }
}

export class DeployModelServer extends Task<DeployParams> {
  static override params = {
    store: param.string({ description: 'the store holding the registry' }),
    model: param.string({ default: DEFAULT_MODEL_NAME, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, description: 'registry model to serve' }),
    alias: param.string({ default: DEFAULT_ALIAS, description: 'alias the server follows' }),
    target: param.choice(['in-process', 'docker', 'swarm'] as const, { default: 'in-process', description: 'where the server runs' }),
    host: param.string({ default: '127.0.0.1', description: 'address the server binds' }),
    port: param.int({ default: 8080, min: 1, max: 65535, description: 'port the server binds' }),
    image: param.string({ default: SERVER_IMAGE, description: 'server image (targets docker and swarm)' }),
    replicas: param.int({ default: 1, min: 1, description: 'target swarm: tasks of the service, each on a node of its own' }),
    everyNode: param.boolean({ default: false, description: 'target swarm: one task on every node (a global service) instead of --replicas' }),
    maxBatchSize: param.int({ default: DEFAULT_BATCHING.maxBatchSize, min: 1, description: 'adaptive batching: images per model call' }),
    maxWaitMs: param.number({ default: DEFAULT_BATCHING.maxWaitMs, min: 0, description: 'adaptive batching: longest wait for a batch' }),
    pollMs: param.int({ default: 1000, min: 10, description: 'how often the server checks where the alias points (ms)' }),
    logChunkSeconds: param.number({ default: 10, gt: 0, description: 'longest a prediction log chunk stays open before it is published (s)' }),
  };
  override readonly version = '1';

  /** The server this task started in this process (target in-process), for the script to keep running. */
  embeddedServer: ModelServer | undefined;

  override readonly resources: TaskResources;

  /** Tasks to finish first (a flow's registration, say); not parameters, so they do not change this task's id. */
  private readonly after: readonly AnyTask[];

  constructor(params: DeployParams, options: { after?: readonly AnyTask[] } = {}) {
    super(params);
    this.after = options.after ?? [];
    // Under the Docker executor the step itself runs in a container: give it the engine's socket and the host network.
    this.resources = this.params.target === 'in-process' ? {} : { network: 'host', mounts: [{ source: '/var/run/docker.sock' }] };
  }

  override requires(): Requirements {
    return this.after;
  }

  get url(): string {
    const host = this.params.host === '0.0.0.0' ? '127.0.0.1' : this.params.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.params.port}`;
  }

  /** What a container or service is made from (the token from the environment). */
  get deploymentSpec(): SwarmServerSpec {
    const { store, model, alias, host, port, image, maxBatchSize, maxWaitMs, pollMs, logChunkSeconds, replicas, everyNode } = this.params;
    const token = process.env[TOKEN_ENV] || undefined;
    return { store, model, alias, host, port, image, maxBatchSize, maxWaitMs, pollMs, logChunkSeconds, replicas, everyNode, token };
  }

  override output(): Target {
    return new ServerReadyTarget(this);
  }

  async run(ctx: TaskContext): Promise<void> {
    if (this.params.target === 'docker') {
      const deployed = await ensureDockerServer(new Docker(), this.deploymentSpec, ctx.logger);
      ctx.logger.info({ container: deployed.name, replaced: deployed.replaced }, `model server ${deployed.name} ${deployed.replaced ? 'deployed' : 'already running'} at ${this.url}`);
    } else if (this.params.target === 'swarm') {
      const deployed = await ensureSwarmServer(new Docker(), this.deploymentSpec, ctx.logger);
      ctx.logger.info({ service: deployed.name, changed: deployed.changed }, `model server service ${deployed.name} ${deployed.changed ? 'deployed' : 'already running'} at ${this.url}`);
    } else {
      this.embeddedServer = await startEmbedded(this.params as Required<DeployParams>, ctx.logger);
    }
    await this.waitUntilReady(ctx);
  }

  private async waitUntilReady(ctx: TaskContext): Promise<void> {
    const target = this.output();
    const deadline = Date.now() + 60_000;
    while (!(await target.exists())) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (Date.now() > deadline) throw new ServerStartTimeoutError(`the server at ${this.url} did not answer ready for "${this.params.alias}" within 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function startEmbedded(params: Required<DeployParams>, logger: Logger): Promise<ModelServer> {
  const server = new ModelServer({
    store: params.store,
    model: params.model,
    alias: params.alias,
    host: params.host,
    port: params.port,
    token: process.env[TOKEN_ENV] || undefined,
    batching: { maxBatchSize: params.maxBatchSize, maxWaitMs: params.maxWaitMs },
    pollMs: params.pollMs,
    predictionLog: { chunkMaxAgeMs: params.logChunkSeconds * 1000 },
    logger,
  });
  return server.start().then(() => server);
}
