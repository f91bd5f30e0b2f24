import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CancelledError, UsageError } from '../../errors';
import type { Executor } from '../../executor';
import type { TaskGraph } from '../../graph';
import type { Store } from '../../store/store';
import type { AnyTask, TaskContext } from '../../task';
import { ContainerExits } from '../container/container-exits';
import { ContainerTask, containerTaskStep } from '../container/container-task';
import { createDockerClient, dockerHost, type DockerClient } from '../container/engine-client';
import { flowScriptStep } from '../container/flow-step';
import { currentOwner, type ContainerOwner, stepLabels } from '../container/labels';
import { localTargetsOf } from '../container/local-targets';
import { findProjectRoot } from '../container/project';
import { defaultPassEnv, stepEnvironment, uidGid } from '../container/step-environment';
import { ContainerStepRunner } from '../container/step-runner';
import type { FlowInvocation } from '../../step/invocation';
import { SwarmLocalTargetsError, SwarmUnavailableError } from './errors';
import { assertNodesCanPull, imagesOf, pinnedImage } from './image-preflight';
import { NodeStates } from './node-states';
import { StepSecrets } from './step-secrets';
import { bakedProjectDir, pathInImage } from './image-path';
import { assertRunnableOnSwarm } from './local-targets';
import { modeForEngine, serviceName, type ServiceStepSpec } from './service-spec';
import { SwarmEngine } from './swarm-engine';

/** The image steps run in unless a task names another: the runner with the compiled project in /app (`containers/build --baked`). */
export const defaultSwarmImage = 'dagwright/runner-baked:latest';

/** Host environment passed to every step by default: cloud credentials and endpoints, dagwright's S3 switches, locale. */
export const defaultSwarmPassEnv: readonly string[] = defaultPassEnv;

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
  /** Step images by digest or ID, resolved once each (`pinnedImage`): every node runs the same bits, none pulls again. */
  private readonly pins = new Map<string, Promise<string>>();
  private readonly secrets: StepSecrets;
  private readonly projectDir: string;
  private readonly root: string;
  private readonly user: string | undefined;
  private readonly passEnv: readonly string[];
  private readonly exits: ContainerExits;
  private readonly steps: ContainerStepRunner<ServiceStepSpec>;
  private mode: Promise<'job' | 'replicated'> | undefined;

  constructor(private readonly options: SwarmExecutorOptions = {}) {
    this.docker = options.docker ?? createDockerClient();
    this.owner = currentOwner(`${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    this.exits = new ContainerExits(this.docker, this.owner.session, swarmServiceLabel);
    this.image = options.image ?? defaultSwarmImage;
    this.secrets = new StepSecrets(this.docker, this.owner.session, stepLabels(this.owner, 'secrets', 'secrets', 0));
    this.projectDir = options.projectDir ?? bakedProjectDir;
    this.root = options.projectRoot ?? findProjectRoot(options.invocation ? join(options.invocation.entry, '..') : process.cwd());
    this.user = options.user ?? uidGid();
    this.passEnv = options.passEnv ?? defaultSwarmPassEnv;
    const store = options.store === undefined || typeof options.store === 'string' ? options.store : options.store.uri;
    const engine = new SwarmEngine(this.docker, this.exits, new NodeStates(this.docker), { pollMs: options.pollMs, maxPollMs: options.maxPollMs });
    this.steps = new ContainerStepRunner(engine, { session: this.owner.session, tailLines: options.logTailLines ?? 20, store });
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
      await assertNodesCanPull(this.docker, await this.pinned(image), { labels: stepLabels(this.owner, 'pull-check', 'pull-check', 0), timeoutMs: this.options.pullCheckTimeoutMs });
    }
  }

  private pinned(image: string): Promise<string> {
    let pin = this.pins.get(image);
    if (pin === undefined) this.pins.set(image, (pin = pinnedImage(this.docker, image)));
    return pin;
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
    const spec = this.stepSpec(task, ctx);
    // The redactor still sees the credentials (spec.env), so a step that prints them logs [redacted].
    const { env, secrets } = this.options.credentialsAsSecret === false ? { env: spec.env, secrets: [] } : await this.secrets.apply(spec.env, spec.user);
    await this.steps.run(task, { ...spec, image: await this.pinned(spec.image), env, secrets, mode: await this.serviceMode() }, ctx, spec.env);
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
      ({ command, env: taskEnv } = flowScriptStep(task, invocation, { entry: invocation && pathInImage(invocation.entry, this.root, this.projectDir) }));
    }
    return {
      name: serviceName(task.family, `${ctx.attempt}-${randomBytes(4).toString('hex')}`),
      image,
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

  /** Removes any service of this executor still there (normally none: each attempt removes its own). */
  async close(): Promise<void> {
    await this.steps.close();
    await this.secrets.close();
    this.exits.close();
  }
}
