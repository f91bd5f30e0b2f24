import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CancelledError } from '../../errors';
import type { Executor } from '../../executor';
import { type Store, toStore } from '../../store/store';
import type { AnyTask, TaskContext, TaskMount } from '../../task';
import { ContainerTask, containerTaskStep } from '../container/container-task';
import { createDockerClient, type DockerClient } from '../container/engine-client';
import { flowScriptStep } from '../container/flow-step';
import { currentOwner, stepLabels, type ContainerOwner } from '../container/labels';
import { localOutputsOf } from '../container/local-targets';
import { stageOutputs, type StagedOutputs } from '../container/output-staging';
import { dedupeMounts, findProjectRoot, isInside, linkedNodeModules, outerNodeModules } from '../container/project';
import { defaultPassEnv, stepEnvironment, uidGid } from '../container/step-environment';
import { ContainerStepRunner } from '../container/step-runner';
import type { FlowInvocation } from '../../step/invocation';
import type { StepSpec } from './container-spec';
import { DockerEngine } from './docker-engine';
import { compileProject, type CompiledProject } from './ts-cache';

/** The image steps run in unless a task names another; build it with `containers/build` (or let the executor table build it). */
export const defaultRunnerImage = 'dagwright/runner:latest';

export { defaultPassEnv };

export interface DockerExecutorOptions {
  /** Default: a client for DOCKER_HOST or the default socket. */
  docker?: DockerClient;
  /** How to start the flow again for one task; needed to run TypeScript tasks (runFlow passes it). */
  invocation?: FlowInvocation;
  /**
   * The flow's store: a local folder is mounted at its own path (writable for TypeScript steps; a
   * ContainerTask writes only its staged outputs). With a remote store (s3://) nothing is mounted and
   * steps get the host's network by default, since they must reach the store.
   */
  store?: Store | string;
  /** Default `dagwright/runner:latest`. */
  image?: string;
  /** Numeric "uid:gid" steps run as; default the invoking user's, so outputs belong to them. */
  user?: string;
  /** Mounted read-only at its own path; default the folder with package.json above the flow script (or the working directory). */
  projectRoot?: string;
  /** Host environment variables passed to steps; `NAME_*` passes a prefix. Default `defaultPassEnv`. */
  passEnv?: readonly string[];
  /** Lines of a failed step's log quoted in its error; default 20. */
  logTailLines?: number;
}

/** A step's container spec, and for a ContainerTask the staging of its outputs. */
interface PreparedStep {
  readonly spec: StepSpec;
  readonly staged: StagedOutputs | undefined;
}

/**
 * Runs every step in its own container through the Docker engine. A
 * TypeScript task runs as the same flow script started with `--run-task <id>`
 * (rebuilding the DAG inside, with the project compiled once on the host); a
 * `ContainerTask` runs its own image and command, writing its local outputs
 * to staging folders that are published only when the attempt succeeded.
 * The project folder is mounted read-only and the local store at its own
 * path, steps run as the invoking user with no network and no privileges,
 * their logs stream into the task's logger, every container is removed when
 * its attempt ends, and a reaper removes them if this process dies.
 */
export class DockerExecutor implements Executor {
  readonly name = 'docker';
  readonly docker: DockerClient;
  readonly owner: ContainerOwner;
  private readonly image: string;
  private readonly user: string | undefined;
  private readonly root: string;
  private readonly store: Store | undefined;
  /** Mounts of every step; `containerTaskMounts` for a ContainerTask, whose store is read-only. */
  private readonly baseMounts: TaskMount[];
  private readonly containerTaskMounts: TaskMount[];
  private readonly passEnv: readonly string[];
  private readonly steps: ContainerStepRunner<StepSpec>;
  private compiled: Promise<CompiledProject> | undefined;
  private storeReady: Promise<unknown> | undefined;

  constructor(private readonly options: DockerExecutorOptions = {}) {
    this.docker = options.docker ?? createDockerClient();
    this.owner = currentOwner(`${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    this.image = options.image ?? defaultRunnerImage;
    this.user = options.user ?? uidGid();
    this.root = options.projectRoot ?? findProjectRoot(options.invocation ? join(options.invocation.entry, '..') : process.cwd());
    this.store = options.store === undefined ? undefined : toStore(options.store);
    this.passEnv = options.passEnv ?? defaultPassEnv;
    this.steps = new ContainerStepRunner(new DockerEngine(this.docker), { session: this.owner.session, tailLines: options.logTailLines ?? 20, store: this.store?.uri });
    const storePath = this.store?.path;
    const mounts = (storeReadOnly: boolean) =>
      dedupeMounts([
        { source: this.root, readOnly: true },
        ...(storePath === undefined ? [] : [{ source: storePath, readOnly: storeReadOnly }]),
        ...[...outerNodeModules(this.root), ...linkedNodeModules(this.root)].map((source) => ({ source, readOnly: true })),
      ]);
    this.baseMounts = mounts(false);
    this.containerTaskMounts = mounts(true);
  }

  /** Compiles the project's TypeScript for containers (once per executor; later calls share it). */
  prepare(): Promise<CompiledProject> {
    this.compiled ??= compileProject(this.root);
    this.compiled.catch(() => (this.compiled = undefined));
    return this.compiled;
  }

  async execute(task: AnyTask, ctx: TaskContext): Promise<void> {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new CancelledError(task.id);
    const { spec, staged } = await this.stepSpec(task, ctx);
    try {
      await this.steps.run(task, spec, ctx);
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new CancelledError(task.id);
      await staged?.publish();
    } finally {
      await staged?.discard();
    }
  }

  /** What the step's container is made from: the image, the command and the resources the task asks for. */
  private async stepSpec(task: AnyTask, ctx: TaskContext): Promise<PreparedStep> {
    const res = task.resources ?? {};
    const user = res.user ?? this.user;
    let image = res.image ?? this.image;
    let command: readonly string[];
    let taskEnv: Record<string, string> = { ...res.env };
    let workingDir: string | undefined;
    let staged: StagedOutputs | undefined;
    let mounts = this.baseMounts;
    if (this.store?.path !== undefined) {
      this.storeReady ??= mkdir(this.store.path, { recursive: true });
      await this.storeReady;
    }
    if (task instanceof ContainerTask) {
      const step = containerTaskStep(task, image);
      // Its outputs are written to staging folders (the command is told their paths) and the store is read-only.
      staged = await stageOutputs(localOutputsOf(task), user);
      const rewrite = staged.rewrite;
      image = step.image;
      command = step.command.map(rewrite);
      taskEnv = Object.fromEntries(Object.entries({ ...taskEnv, ...step.env }).map(([k, v]) => [k, rewrite(v)]));
      workingDir = step.workingDir;
      mounts = [...this.containerTaskMounts, ...staged.mounts];
    } else {
      const invocation = this.options.invocation;
      const compiled = invocation?.entry.endsWith('.ts') ? await this.prepare() : undefined;
      const step = flowScriptStep(task, invocation, { preload: compiled?.hook });
      command = step.command;
      taskEnv = { ...taskEnv, ...step.env, ...(compiled ? javascriptCacheEnv(compiled) : {}) };
      if (compiled) mounts = [...mounts, ...javascriptCacheMounts(compiled)];
    }
    const cwd = process.cwd();
    const spec: StepSpec = {
      image,
      command,
      env: stepEnvironment(this.passEnv, taskEnv, ctx),
      labels: stepLabels(this.owner, ctx.runId, task.id, ctx.attempt),
      mounts: dedupeMounts([...mounts, ...(res.mounts ?? [])]),
      workingDir: workingDir ?? (this.baseMounts.some((m) => isInside(cwd, m.source)) ? cwd : this.root),
      user,
      network: res.network ?? (this.store !== undefined && !this.store.local ? 'host' : 'none'),
      cpus: res.cpus,
      memoryMb: res.memoryMb,
      gpus: res.gpus,
    };
    return { spec, staged };
  }

  /** Waits for the removal of finished containers, and removes any still there (normally none). */
  async close(): Promise<void> {
    await this.steps.close();
  }
}

/** The compiled JavaScript and the hook that reads it, where the project mount does not already carry them. */
function javascriptCacheMounts(compiled: CompiledProject): TaskMount[] {
  return [...compiled.cacheDirs, dirname(compiled.hook)].map((source) => ({ source, readOnly: true }));
}

/** A cache folder named by the host's environment is the step's too. */
function javascriptCacheEnv(compiled: CompiledProject): Record<string, string> {
  return compiled.cacheDirs.length === 1 ? { DAGWRIGHT_TS_CACHE_DIR: compiled.cacheDirs[0] } : {};
}
