import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { CancelledError } from '../../errors';
import type { TaskContext } from '../../task';
import type { ContainerExit, ContainerExits } from '../container/container-exits';
import { dockerHost, type DockerClient, statusCode } from '../container/engine-client';
import type { EngineStep, StepAttempt, StepEnd, StepEngine } from '../container/step-engine';
import { ServiceExitError, ServiceTaskError, SwarmNetworkError, SwarmNodeLostError } from './errors';
import type { NodeStates } from './node-states';
import { ServiceLogs } from './service-logs';
import { serviceOptions, type ServiceStepSpec } from './service-spec';

/** Task states after which Swarm does nothing more with a job's task. */
const finalStates = new Set(['complete', 'failed', 'rejected', 'shutdown', 'orphaned', 'remove']);

/** How long a finished step's remaining output may take to arrive. */
const logDrainMs = 5000;

/** A step that runs longer than this gets its log lines live; a shorter one's are read once, when it ends. */
const liveLogsAfterMs = 500;

/** The engine refused a service for its network: Swarm attaches only its predefined networks (on engine 20.10: host, not none). */
function noSuchNetwork(err: unknown): boolean {
  return statusCode(err) === 404 && /predefined swarm network/i.test((err as Error).message ?? '');
}

interface SwarmTask {
  ID: string;
  NodeID?: string;
  CreatedAt?: string;
  Status?: { State?: string; Err?: string; Message?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
}

export interface SwarmEngineOptions {
  /** Shortest wait between two looks at a step's task (see `SwarmExecutorOptions.pollMs`). */
  readonly pollMs?: number;
  /** Longest wait between two looks; default 1000 ms. */
  readonly maxPollMs?: number;
}

/** Steps as one-shot services on a Swarm manager. */
export class SwarmEngine implements StepEngine<ServiceStepSpec> {
  constructor(
    readonly client: DockerClient,
    /** The `die` events of the steps' containers, one stream per executor. */
    private readonly exits: ContainerExits,
    /** Which nodes are down: a step on one fails at once. */
    private readonly nodes: NodeStates,
    private readonly options: SwarmEngineOptions = {},
  ) {}

  async create({ task, spec, ctx, sink, redactor }: StepAttempt<ServiceStepSpec>): Promise<EngineStep> {
    const logger = ctx.logger;
    logger.debug(
      { image: spec.image, command: spec.command.map((a) => redactor.text(a)), service: spec.name, mode: spec.mode, network: spec.network, placement: spec.placement },
      'creating service',
    );
    // Listen for the step's exit before it can happen.
    await this.exits.start();
    const created = (await this.client.createService(serviceOptions(spec) as unknown as Docker.CreateServiceOptions).catch((err: unknown) => {
      throw noSuchNetwork(err) ? new SwarmNetworkError(task.id, spec.network) : err;
    })) as { id?: string; ID?: string };
    const serviceId = created.id ?? created.ID;
    if (serviceId === undefined) throw new Error(`${task.id}: the engine created service ${spec.name} but returned no id`);
    const step = new ServiceStep(this, serviceId, this.exits.wait(serviceId), { task, spec, ctx, sink, redactor });
    logger.debug({ serviceId: serviceId.slice(0, 12) }, 'created service');
    return step;
  }

  /** The service's newest task, as the manager reports it. */
  async latestTask(serviceId: string): Promise<SwarmTask | undefined> {
    const tasks = (await this.client.listTasks({ filters: JSON.stringify({ service: [serviceId] }) })) as SwarmTask[];
    return tasks.sort((a, b) => String(b.CreatedAt).localeCompare(String(a.CreatedAt)))[0];
  }

  /**
   * Polls the manager until the service's task ends, a tenth of the time the
   * step has taken so far between looks (at least `pollMs`, at most
   * `maxPollMs`); never settles once `stop` is aborted.
   */
  async pollTask(serviceId: string, ctx: TaskContext, stop: AbortSignal): Promise<SwarmTask> {
    const minDelay = this.options.pollMs ?? (dockerHost().startsWith('ssh://') ? 250 : 25);
    const maxDelay = this.options.maxPollMs ?? 1000;
    const started = performance.now();
    let lastWaitReason: string | undefined;
    const both = AbortSignal.any([ctx.signal, stop]);
    for (;;) {
      const task = await this.latestTask(serviceId);
      const state = task?.Status?.State;
      if (task && state !== undefined && finalStates.has(state)) return task;
      const lost = task?.NodeID ? await this.nodes.lost(task.NodeID) : undefined;
      if (lost) throw new SwarmNodeLostError(ctx.taskId, lost.node, lost.state);
      // A task Swarm cannot place yet (no node with the resources, no node matching the constraints) waits, with a reason.
      const reason = task?.Status?.Err;
      if (reason && reason !== lastWaitReason && (state === 'pending' || state === 'new' || state === 'allocated')) {
        lastWaitReason = reason;
        ctx.logger.warn({ serviceId: serviceId.slice(0, 12), state, reason }, `Swarm cannot start the step yet: ${reason}`);
      }
      const delay = Math.min(maxDelay, Math.max(minDelay, (performance.now() - started) / 10));
      try {
        await sleep(delay, undefined, { signal: both });
      } catch (err) {
        if (stop.aborted) return new Promise<never>(() => {});
        throw ctx.signal.aborted ? (ctx.signal.reason ?? new CancelledError(ctx.taskId)) : err;
      }
    }
  }

  async nodeName(nodeId: string | undefined): Promise<string | undefined> {
    if (!nodeId) return undefined;
    try {
      const node = (await this.client.getNode(nodeId).inspect()) as { Description?: { Hostname?: string } };
      return node.Description?.Hostname ?? nodeId.slice(0, 12);
    } catch {
      return nodeId.slice(0, 12);
    }
  }
}

/** One attempt's service. */
class ServiceStep implements EngineStep {
  private logs: ServiceLogs | undefined;
  private followTimer: NodeJS.Timeout | undefined;
  /** The service's task as it ended. */
  private final: SwarmTask | undefined;

  constructor(
    private readonly engine: SwarmEngine,
    readonly id: string,
    private readonly exit: { exited: Promise<ContainerExit>; cancel: () => void },
    private readonly attempt: StepAttempt<ServiceStepSpec>,
  ) {}

  async run(): Promise<StepEnd> {
    const logs = new ServiceLogs(this.engine.client, this.id, this.attempt.sink);
    this.logs = logs;
    // Live logs only for steps that run a while: a short step's whole output is read once it ends.
    this.followTimer = setTimeout(() => logs.follow(), liveLogsAfterMs);
    const final = await this.waitForTask();
    clearTimeout(this.followTimer);
    // The exit came by this engine's event stream (no task id): the container is local.
    await logs.finish(logDrainMs, final.ID === '' ? final.Status?.ContainerStatus?.ContainerID : undefined);
    this.final = final;
    const state = final.Status?.State ?? 'unknown';
    const code = final.Status?.ContainerStatus?.ExitCode;
    return { ok: state === 'complete' && (code === undefined || code === 0), code, containerId: final.Status?.ContainerStatus?.ContainerID };
  }

  async failure(end: StepEnd): Promise<Error> {
    const { task, spec, sink, redactor } = this.attempt;
    if (end.code !== undefined && end.code !== 0) {
      const node = await this.engine.nodeName(this.final?.NodeID ?? (await this.engine.latestTask(this.id))?.NodeID);
      return new ServiceExitError(task.id, end.code, sink.tail(), this.id, node);
    }
    const status = this.final?.Status;
    return new ServiceTaskError(task.id, this.id, status?.State ?? 'unknown', redactor.text(status?.Err ?? status?.Message ?? ''), spec.image);
  }

  stop(): void {
    clearTimeout(this.followTimer);
    this.exit.cancel();
    this.logs?.stop();
  }

  /** Removing the service stops its container (SIGTERM, then SIGKILL after stopGraceMs) wherever it runs. */
  remove(logger?: Logger): Promise<void> {
    return this.engine.client
      .getService(this.id)
      .remove()
      .then(
        () => logger?.debug({ serviceId: this.id.slice(0, 12) }, 'removed service'),
        (err: unknown) => {
          if (logger && statusCode(err) !== 404) logger.warn({ err, serviceId: this.id.slice(0, 12) }, 'could not remove service; `docker service rm` it, or prune services by the dagwright.managed label');
        },
      );
  }

  /**
   * Waits for the service's task to end. Event-driven where it can be: the
   * engine's `die` event for the step's container (when it ran on the engine
   * we talk to) ends the wait at once. Beside it the manager is polled, for
   * steps on other nodes and for tasks that never start (rejected, no node
   * with the resources).
   */
  private async waitForTask(): Promise<SwarmTask> {
    const byEvent = this.exit.exited.then(
      (e): SwarmTask => ({ ID: '', Status: { State: e.exitCode === 0 ? 'complete' : 'failed', ContainerStatus: { ContainerID: e.containerId, ExitCode: e.exitCode } } }),
    );
    const polling = new AbortController();
    try {
      return await Promise.race([byEvent, this.engine.pollTask(this.id, this.attempt.ctx, polling.signal)]);
    } finally {
      polling.abort();
    }
  }
}
