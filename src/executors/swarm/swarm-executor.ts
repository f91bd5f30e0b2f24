import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { CancelledError, UsageError } from '../../errors';
import type { Executor } from '../../executor';
import type { TaskGraph } from '../../graph';
import type { Store } from '../../store/store';
import type { AnyTask, TaskContext } from '../../task';
import { type ContainerExit, ContainerExits } from '../container/container-exits';
import { ContainerTask, containerTaskStep } from '../container/container-task';
import { createDockerClient, dockerHost, type DockerClient, statusCode } from '../container/engine-client';
import { ContainerOutOfMemoryError, NoFlowInvocationError } from '../container/errors';
import { currentOwner, type ContainerOwner, stepLabels } from '../container/labels';
import { localTargetsOf } from '../container/local-targets';
import { StepLogSink } from '../container/log-stream';
import { outOfMemoryVerdict } from '../container/out-of-memory';
import { Reaper } from '../container/orphans';
import { findProjectRoot } from '../container/project';
import { Redactor } from '../container/redact';
import { defaultPassEnv, stepEnvironment, uidGid } from '../container/step-environment';
import { type FlowInvocation, stepInvocation } from '../../step/invocation';
import { ExitCode } from '../../step/exit-codes';
import { stepRequirements, stepTaskEnv } from '../../step/requests';
import { abortion } from '../../cancellation';
import { ServiceExitError, ServiceTaskError, SwarmLocalTargetsError, SwarmNetworkError, SwarmNodeLostError, SwarmUnavailableError } from './errors';
import { assertNodesCanPull, imagesOf, pinnedImage } from './image-preflight';
import { NodeStates } from './node-states';
import { StepSecrets } from './step-secrets';
import { bakedProjectDir, pathInImage } from './image-path';
import { assertRunnableOnSwarm } from './local-targets';
import { ServiceLogs } from './service-logs';
import { modeForEngine, serviceName, serviceOptions, type ServiceStepSpec } from './service-spec';

/** The image steps run in unless a task names another: the runner with the compiled project in /app (`containers/build --baked`). */
export const defaultSwarmImage = 'dagwright/runner-baked:latest';

/** Host environment passed to every step by default: cloud credentials and endpoints, dagwright's S3 switches, locale. */
export const defaultSwarmPassEnv: readonly string[] = defaultPassEnv;

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

/** The label Swarm puts on a task's container: which service it belongs to. */
const swarmServiceLabel = 'com.docker.swarm.service.id';

export interface SwarmExecutorOptions {
  /** A client for a Swarm manager; default DOCKER_HOST (unix://, ssh://, tcp:// with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH). */
  docker?: DockerClient;
  /** How to start the flow again for one task; needed to run TypeScript tasks (runFlow passes it). */
  invocation?: FlowInvocation;
  /** The flow's store; must be remote, e.g. s3:// (checked by `prepare`). */
  store?: Store | string;
  /** Default `dagwright/runner-baked:latest`; on a real cluster, an image in a registry every node can pull from. */
  image?: string;
  /** Where the project is inside the image; default `/app`. */
  projectDir?: string;
  /** The project folder on this machine (mapped to `projectDir`); default the folder with package.json above the flow script. */
  projectRoot?: string;
  /** Numeric "uid:gid" steps run as; default the invoking user's. */
  user?: string;
  /** Host environment variables passed to steps; `NAME_*` passes a prefix. Default `defaultSwarmPassEnv`. */
  passEnv?: readonly string[];
  /** Lines of a failed step's log quoted in its error; default 20. */
  logTailLines?: number;
  /**
   * Shortest wait between two looks at a step's task; later waits are a tenth of the time the step has taken so far.
   * Default 25 ms, or 250 ms over ssh:// (docker-modem opens an ssh connection for every request).
   */
  pollMs?: number;
  /** Longest wait between two looks; default 1000 ms. */
  maxPollMs?: number;
  /** SIGTERM-to-SIGKILL time when a step is stopped (timeout, cancel); default 5000 ms. */
  stopGraceMs?: number;
  /**
   * How a step's service runs once: 'job' (a replicated job) or 'replicated' (one replica, never restarted).
   * Default: 'job' when the manager's engine is 24.0 or later, else 'replicated', since older engines never
   * remove a removed job's tasks and exited containers (moby/moby#44312).
   */
  mode?: 'job' | 'replicated';
  /**
   * Whether `prepare` checks that every ready node can get each step image (a global probe service, skipped on a
   * one-node swarm that has the image) and refuses the flow with `SwarmImagePullError` otherwise. Default true.
   */
  pullCheck?: boolean;
  /** How long that check waits for the nodes' pulls; default 10 minutes. */
  pullCheckTimeoutMs?: number;
  /**
   * S3 credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) reach steps as a Swarm secret,
   * a credentials file, so that `docker service inspect` shows none; false passes them as environment. Default true.
   */
  credentialsAsSecret?: boolean;
}

interface SwarmTask {
  ID: string;
  NodeID?: string;
  CreatedAt?: string;
  Status?: { State?: string; Err?: string; Message?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
}

/**
 * Runs every step as a one-shot Docker Swarm service (a replicated job that
 * runs once, never restarted) on whichever node the cluster picks. A
 * TypeScript task runs as the flow script compiled into the image
 * (`containers/build --baked`) started with `--run-task <id>`; a
 * `ContainerTask` runs its own image and command. Nodes share no disk with
 * this machine, so the store must be S3 and no task may declare local
 * targets (`prepare` refuses such a flow before anything runs). Steps get
 * the host's cloud credentials through their environment, their logs stream
 * into the task's logger, and every service is removed when its attempt
 * ends, also on a timeout or cancellation.
 */
export class SwarmExecutor implements Executor {
  readonly name = 'swarm';
  readonly docker: DockerClient;
  readonly owner: ContainerOwner;
  private readonly image: string;
  /** Step images by digest, as `prepare` resolved them: every node runs the same bits. */
  private readonly pinned = new Map<string, string>();
  private readonly nodes: NodeStates;
  private readonly secrets: StepSecrets;
  private readonly projectDir: string;
  private readonly root: string;
  private readonly user: string | undefined;
  private readonly passEnv: readonly string[];
  private readonly tailLines: number;
  private readonly live = new Set<string>();
  private readonly removals = new Set<Promise<void>>();
  private readonly reaper: Reaper;
  private readonly exits: ContainerExits;
  private mode: Promise<'job' | 'replicated'> | undefined;

  constructor(private readonly options: SwarmExecutorOptions = {}) {
    this.docker = options.docker ?? createDockerClient();
    this.owner = currentOwner(`${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    this.reaper = new Reaper(this.owner.session);
    this.exits = new ContainerExits(this.docker, this.owner.session, swarmServiceLabel);
    this.image = options.image ?? defaultSwarmImage;
    this.nodes = new NodeStates(this.docker);
    this.secrets = new StepSecrets(this.docker, this.owner.session, stepLabels(this.owner, 'secrets', 'secrets', 0));
    this.projectDir = options.projectDir ?? bakedProjectDir;
    this.root = options.projectRoot ?? findProjectRoot(options.invocation ? join(options.invocation.entry, '..') : process.cwd());
    this.user = options.user ?? uidGid();
    this.passEnv = options.passEnv ?? defaultSwarmPassEnv;
    this.tailLines = options.logTailLines ?? 20;
  }

  /**
   * Checks, before anything runs, that the engine is a Swarm manager, the
   * store is S3 and no task of `graph` declares local targets. Throws
   * `SwarmUnavailableError`, `SwarmLocalStoreError` or `SwarmLocalTargetsError`.
   */
  async prepare(graph?: TaskGraph): Promise<void> {
    assertRunnableOnSwarm(this.options.store, graph);
    const info = (await this.docker.info()) as { ServerVersion?: string; Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
      throw new SwarmUnavailableError(dockerHost(), info.Swarm?.LocalNodeState ?? '');
    }
    this.mode ??= Promise.resolve(this.options.mode ?? modeForEngine(info.ServerVersion));
    if (this.options.pullCheck === false) return;
    for (const image of imagesOf(graph, this.image)) {
      const pinned = await pinnedImage(this.docker, image);
      if (pinned !== image) this.pinned.set(image, pinned);
      await assertNodesCanPull(this.docker, pinned, { labels: stepLabels(this.owner, 'pull-check', 'pull-check', 0), timeoutMs: this.options.pullCheckTimeoutMs });
    }
  }

  /** The service mode for this manager (asks its version once, unless `mode` was given). */
  private serviceMode(): Promise<'job' | 'replicated'> {
    this.mode ??= this.options.mode
      ? Promise.resolve(this.options.mode)
      : this.docker.version().then(
          (v) => modeForEngine((v as { Version?: string }).Version),
          () => 'job' as const,
        );
    return this.mode;
  }

  async execute(task: AnyTask, ctx: TaskContext): Promise<void> {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new CancelledError(task.id);
    // Library users may skip prepare(): refuse the step itself rather than let it write to a node's disk.
    const local = localTargetsOf(task);
    if (local.length > 0) throw new SwarmLocalTargetsError({ [task.id]: local });
    this.reaper.ensureStarted();
    const spec = this.stepSpec(task, ctx);
    // The redactor still sees the credentials (spec.env), so a step that prints them logs [redacted].
    const { env, secrets } = this.options.credentialsAsSecret === false ? { env: spec.env, secrets: [] } : await this.secrets.apply(spec.env, spec.user);
    await this.runService(task, { ...spec, env, secrets, mode: await this.serviceMode() }, ctx, spec.env);
  }

  /** What the step's service is made from: the image, the command and the resources the task asks for. */
  stepSpec(task: AnyTask, ctx: TaskContext): ServiceStepSpec {
    const res = task.resources ?? {};
    if (res.gpus !== undefined && res.gpus !== 0) {
      throw new UsageError(
        `${task.id}: resources.gpus is not supported by the Swarm executor; pick GPU nodes with resources.placement ` +
          '(e.g. ["node.labels.gpu==true"]) and configure the GPU runtime on those nodes.',
      );
    }
    let image = res.image ?? this.image;
    let command: readonly string[];
    let taskEnv: Record<string, string> = {};
    let workingDir: string | undefined = this.projectDir;
    if (task instanceof ContainerTask) {
      ({ image, command, env: taskEnv, workingDir } = containerTaskStep(task, image));
    } else {
      const invocation = this.options.invocation;
      if (invocation === undefined) throw new NoFlowInvocationError(task.id);
      ({ command, env: taskEnv } = stepInvocation(invocation, task.id, { entry: pathInImage(invocation.entry, this.root, this.projectDir) }));
      taskEnv = { ...taskEnv, ...stepTaskEnv(task) };
    }
    return {
      name: serviceName(task.family, `${ctx.attempt}-${randomBytes(4).toString('hex')}`),
      image: this.pinned.get(image) ?? image,
      command,
      env: stepEnvironment(this.passEnv, { ...res.env, ...taskEnv }, ctx),
      labels: { ...stepLabels(this.owner, ctx.runId, task.id, ctx.attempt), 'dagwright.executor': 'swarm' },
      mounts: res.mounts ?? [],
      workingDir,
      user: res.user ?? this.user,
      // Steps reach object storage, so the host network unless a task asks for none.
      network: res.network ?? 'host',
      cpus: res.cpus,
      memoryMb: res.memoryMb,
      placement: res.placement,
      stopGraceMs: this.options.stopGraceMs ?? 5000,
    };
  }

  private async runService(task: AnyTask, spec: ServiceStepSpec, ctx: TaskContext, secretEnv: Readonly<Record<string, string>>): Promise<void> {
    const logger = ctx.logger;
    const redactor = new Redactor(secretEnv);
    const sink = new StepLogSink(logger, redactor, this.tailLines, ctx.progress);
    const aborted = abortion(ctx.signal);
    let serviceId: string | undefined;
    let logs: ServiceLogs | undefined;
    let followTimer: NodeJS.Timeout | undefined;
    let exit: { exited: Promise<ContainerExit>; cancel: () => void } | undefined;
    let succeeded = false;
    try {
      logger.debug(
        { image: spec.image, command: spec.command.map((a) => redactor.text(a)), service: spec.name, mode: spec.mode, network: spec.network, placement: spec.placement },
        'creating service',
      );
      // Listen for the step's exit before it can happen: one event stream per executor.
      await this.exits.start();
      // Not raced against the abort: a service created after we stopped waiting would be left behind.
      const created = (await this.docker.createService(serviceOptions(spec) as unknown as Docker.CreateServiceOptions).catch((err: unknown) => {
        throw noSuchNetwork(err) ? new SwarmNetworkError(task.id, spec.network) : err;
      })) as { id?: string; ID?: string };
      serviceId = created.id ?? created.ID;
      if (serviceId === undefined) throw new Error(`${task.id}: the engine created service ${spec.name} but returned no id`);
      this.live.add(serviceId);
      exit = this.exits.wait(serviceId);
      logger.debug({ serviceId: serviceId.slice(0, 12) }, 'created service');
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new CancelledError(task.id);
      logs = new ServiceLogs(this.docker, serviceId, sink);
      // Live logs only for steps that run a while: a short step's whole output is read once it ends.
      const following = logs;
      followTimer = setTimeout(() => following.follow(), liveLogsAfterMs);
      const final = await Promise.race([this.waitForTask(serviceId, ctx, exit.exited), aborted.promise]);
      clearTimeout(followTimer);
      // The exit came by this engine's event stream (no task id): the container is local.
      await logs.finish(logDrainMs, final.ID === '' ? final.Status?.ContainerStatus?.ContainerID : undefined);
      const state = final.Status?.State ?? 'unknown';
      const code = final.Status?.ContainerStatus?.ExitCode;
      if (state === 'complete' && (code === undefined || code === 0)) {
        succeeded = true;
        return;
      }
      if (code !== undefined && code !== 0) {
        const node = await this.nodeName(final.NodeID ?? (await this.latestTask(serviceId))?.NodeID);
        const memory = await outOfMemoryVerdict(this.docker, final.Status?.ContainerStatus?.ContainerID, code, spec.memoryMb);
        if (memory !== 'no') throw new ContainerOutOfMemoryError(task.id, code, sink.tail(), spec.memoryMb, memory === 'certain');
        // A TypeScript step that called ctx.require() on incomplete tasks: the scheduler runs them, then this step again.
        const store = this.options.store;
        if (code === ExitCode.stepNeedsRequirements && !(task instanceof ContainerTask) && store) throw await stepRequirements(typeof store === 'string' ? store : store.uri, ctx.runId, task, ctx.logger);
        throw new ServiceExitError(task.id, code, sink.tail(), serviceId, node);
      }
      throw new ServiceTaskError(task.id, serviceId, state, redactor.text(final.Status?.Err ?? final.Status?.Message ?? ''), spec.image);
    } finally {
      clearTimeout(followTimer);
      exit?.cancel();
      aborted.dispose();
      logs?.stop();
      if (serviceId !== undefined) await this.removeService(serviceId, logger, succeeded);
    }
  }

  /**
   * Removes a step's service, which stops its container (SIGTERM, then SIGKILL after stopGraceMs) wherever it
   * runs. After a success the next step need not wait for the manager: `close()` waits for those removals.
   */
  private async removeService(id: string, logger: TaskContext['logger'], inBackground: boolean): Promise<void> {
    const removal: Promise<void> = this.docker
      .getService(id)
      .remove()
      .then(
        () => logger.debug({ serviceId: id.slice(0, 12) }, 'removed service'),
        (err: unknown) => {
          if (statusCode(err) !== 404) logger.warn({ err, serviceId: id.slice(0, 12) }, 'could not remove service; `docker service rm` it, or prune services by the dagwright.managed label');
        },
      )
      .finally(() => {
        this.live.delete(id);
        this.removals.delete(removal);
      });
    if (inBackground) this.removals.add(removal);
    else await removal;
  }

  /** The service's newest task, as the manager reports it. */
  private async latestTask(serviceId: string): Promise<SwarmTask | undefined> {
    const tasks = (await this.docker.listTasks({ filters: JSON.stringify({ service: [serviceId] }) })) as SwarmTask[];
    return tasks.sort((a, b) => String(b.CreatedAt).localeCompare(String(a.CreatedAt)))[0];
  }

  /**
   * Waits for the service's task to end. Event-driven where it can be: the
   * engine's `die` event for the step's container (when it ran on the engine
   * we talk to) ends the wait at once. Beside it the manager is polled, a
   * tenth of the time the step has taken so far between looks (at least
   * `pollMs`, at most `maxPollMs`), for steps on other nodes and for tasks
   * that never start (rejected, no node with the resources).
   */
  private async waitForTask(serviceId: string, ctx: TaskContext, exited: Promise<ContainerExit>): Promise<SwarmTask> {
    const byEvent = exited.then(
      (e): SwarmTask => ({ ID: '', Status: { State: e.exitCode === 0 ? 'complete' : 'failed', ContainerStatus: { ContainerID: e.containerId, ExitCode: e.exitCode } } }),
    );
    const polling = new AbortController();
    try {
      return await Promise.race([byEvent, this.pollTask(serviceId, ctx, polling.signal)]);
    } finally {
      polling.abort();
    }
  }

  private async pollTask(serviceId: string, ctx: TaskContext, stop: AbortSignal): Promise<SwarmTask> {
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

  private async nodeName(nodeId: string | undefined): Promise<string | undefined> {
    if (!nodeId) return undefined;
    try {
      const node = (await this.docker.getNode(nodeId).inspect()) as { Description?: { Hostname?: string } };
      return node.Description?.Hostname ?? nodeId.slice(0, 12);
    } catch {
      return nodeId.slice(0, 12);
    }
  }

  /** Removes any service of this executor still there (normally none: each attempt removes its own). */
  async close(): Promise<void> {
    await Promise.all([...this.removals]);
    await Promise.all([...this.live].map((id) => this.docker.getService(id).remove().catch(() => {})));
    await this.secrets.close();
    this.exits.close();
    this.live.clear();
    this.reaper.stop();
  }
}
