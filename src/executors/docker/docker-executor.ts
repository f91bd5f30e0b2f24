import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { CancelledError } from '../../errors';
import type { Executor } from '../../executor';
import { type Store, toStore } from '../../store/store';
import type { AnyTask, TaskContext, TaskMount } from '../../task';
import { abortion } from '../../cancellation';
import { ContainerTask, containerTaskStep } from '../container/container-task';
import { createDockerClient, type DockerClient, statusCode } from '../container/engine-client';
import { ContainerExitError, ContainerOutOfMemoryError, ImageNotFoundError, NoFlowInvocationError } from '../container/errors';
import { currentOwner, stepLabels, type ContainerOwner } from '../container/labels';
import { localOutputsOf } from '../container/local-targets';
import { StepLogSink } from '../container/log-stream';
import { outOfMemoryVerdict } from '../container/out-of-memory';
import { Reaper } from '../container/orphans';
import { stageOutputs, type StagedOutputs } from '../container/output-staging';
import { dedupeMounts, findProjectRoot, isInside, linkedNodeModules, outerNodeModules } from '../container/project';
import { Redactor } from '../container/redact';
import { defaultPassEnv, stepEnvironment, uidGid } from '../container/step-environment';
import { type FlowInvocation, stepInvocation } from '../../step/invocation';
import { ExitCode } from '../../step/exit-codes';
import { stepRequirements, stepTaskEnv } from '../../step/requests';
import { containerOptions, type StepSpec } from './container-spec';
import { compileProject, type CompiledProject } from './ts-cache';

/** How long a step's output may still arrive after its container exited. */
const logDrainMs = 2000;

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

interface LogFollow {
  /** Settles when the container's output has ended (or could not be read). */
  done: Promise<void>;
  stop: () => void;
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
  private readonly tailLines: number;
  private readonly reaper: Reaper;
  private compiled: Promise<CompiledProject> | undefined;
  private storeReady: Promise<unknown> | undefined;
  private readonly live = new Set<Docker.Container>();
  private readonly removals = new Set<Promise<void>>();

  constructor(private readonly options: DockerExecutorOptions = {}) {
    this.docker = options.docker ?? createDockerClient();
    this.owner = currentOwner(`${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    this.reaper = new Reaper(this.owner.session);
    this.image = options.image ?? defaultRunnerImage;
    this.user = options.user ?? uidGid();
    this.root = options.projectRoot ?? findProjectRoot(options.invocation ? join(options.invocation.entry, '..') : process.cwd());
    this.store = options.store === undefined ? undefined : toStore(options.store);
    this.passEnv = options.passEnv ?? defaultPassEnv;
    this.tailLines = options.logTailLines ?? 20;
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
    this.reaper.ensureStarted();
    const { spec, staged } = await this.stepSpec(task, ctx);
    try {
      await this.runContainer(task, spec, ctx);
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
      if (invocation === undefined) throw new NoFlowInvocationError(task.id);
      const compiled = invocation.entry.endsWith('.ts') ? await this.prepare() : undefined;
      const step = stepInvocation(invocation, task.id, { preload: compiled?.hook });
      command = step.command;
      taskEnv = { ...taskEnv, ...step.env, ...stepTaskEnv(task), ...(compiled ? javascriptCacheEnv(compiled) : {}) };
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

  private async runContainer(task: AnyTask, spec: StepSpec, ctx: TaskContext): Promise<void> {
    const logger = ctx.logger;
    const redactor = new Redactor(spec.env);
    const sink = new StepLogSink(logger, redactor, this.tailLines, ctx.progress);
    const aborted = abortion(ctx.signal);
    const waitAbort = new AbortController();
    let container: Docker.Container | undefined;
    let logs: LogFollow | undefined;
    let succeeded = false;
    try {
      logger.debug({ image: spec.image, command: spec.command.map((a) => redactor.text(a)), user: spec.user, network: spec.network }, 'starting container');
      try {
        container = await this.docker.createContainer(containerOptions(spec));
      } catch (err) {
        if (statusCode(err) === 404) throw new ImageNotFoundError(task.id, spec.image);
        throw err;
      }
      this.live.add(container);
      // Cancelled while the engine created it: the finally removes it.
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new CancelledError(task.id);
      // Waiting for the next exit before starting cannot miss a container that exits at once.
      const exited = (container.wait as (opts: object) => Promise<{ StatusCode: number }>).call(container, {
        condition: 'next-exit',
        abortSignal: waitAbort.signal,
      });
      exited.catch(() => {});
      await Promise.race([container.start(), aborted.promise]);
      logger.debug({ containerId: container.id.slice(0, 12) }, 'started container');
      logs = this.followLogs(container, sink);
      const { StatusCode: code } = await Promise.race([exited, aborted.promise]);
      // The output ends when the container does; do not let a stuck stream hold the task. The timer stays
      // referenced: with the log socket unref-ed it is what keeps the process alive until the output is in.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([logs.done, new Promise((r) => (timer = setTimeout(r, logDrainMs)))]);
      clearTimeout(timer);
      if (code === 0) {
        succeeded = true;
        return;
      }
      throw await this.exitFailure(task, container, code, sink, spec, ctx);
    } catch (err) {
      if (!(err instanceof ContainerExitError) && !(err instanceof ImageNotFoundError) && !ctx.signal.aborted) {
        logger.debug({ err }, 'container step failed');
      }
      throw err;
    } finally {
      aborted.dispose();
      waitAbort.abort();
      logs?.stop();
      if (container) await this.removeContainer(container, logger, succeeded);
    }
  }

  /** Why a container that exited with `code` (not 0) failed its attempt: out of memory, requirements to run first, or its exit code. */
  private async exitFailure(task: AnyTask, container: Docker.Container, code: number, sink: StepLogSink, spec: StepSpec, ctx: TaskContext): Promise<Error> {
    const memory = await outOfMemoryVerdict(this.docker, container.id, code, spec.memoryMb);
    if (memory !== 'no') return new ContainerOutOfMemoryError(task.id, code, sink.tail(), spec.memoryMb, memory === 'certain');
    // A TypeScript step that called ctx.require() on incomplete tasks: the scheduler runs them, then this step again.
    if (code === ExitCode.stepNeedsRequirements && !(task instanceof ContainerTask) && this.store) return stepRequirements(this.store.uri, ctx.runId, task, ctx.logger);
    return new ContainerExitError(task.id, code, sink.tail());
  }

  /**
   * Removes an attempt's container (force: kills one that still runs, cancelled or timed out, in the same
   * call). After a success the next step need not wait for the engine to delete it; close() waits for it.
   */
  private async removeContainer(container: Docker.Container, logger: TaskContext['logger'], inBackground: boolean): Promise<void> {
    const removal: Promise<void> = container
      .remove({ force: true, v: true })
      .catch((err: unknown) => {
        if (statusCode(err) !== 404) logger.warn({ err, containerId: container.id.slice(0, 12) }, 'could not remove container; `dagwright prune` removes it later');
      })
      .finally(() => {
        this.live.delete(container);
        this.removals.delete(removal);
      });
    if (inBackground) this.removals.add(removal);
    else await removal;
  }

  /** Streams the container's stdout and stderr, demultiplexed, into `sink`. */
  private followLogs(container: Docker.Container, sink: StepLogSink): LogFollow {
    let source: Readable | undefined;
    let stopped = false;
    const done = (async () => {
      try {
        source = (await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
      } catch {
        return;
      }
      if (stopped) {
        source.destroy();
        return;
      }
      // A following log socket must never keep the process alive.
      (source as Readable & { socket?: { unref?: () => void } }).socket?.unref?.();
      const out = new PassThrough();
      const errOut = new PassThrough();
      out.pipe(sink.stdout);
      errOut.pipe(sink.stderr);
      const ended = Promise.all([
        new Promise((r) => sink.stdout.once('finish', r)),
        new Promise((r) => sink.stderr.once('finish', r)),
      ]);
      this.docker.modem.demuxStream(source, out, errOut);
      await new Promise<void>((resolve) => {
        source!.once('end', resolve);
        source!.once('close', resolve);
        source!.once('error', () => resolve());
      });
      out.end();
      errOut.end();
      await ended;
    })();
    return {
      done,
      stop: () => {
        stopped = true;
        source?.destroy();
      },
    };
  }

  /** Waits for the removal of finished containers, and removes any still there (normally none). */
  async close(): Promise<void> {
    await Promise.all([...this.removals]);
    await Promise.all([...this.live].map((c) => c.remove({ force: true, v: true }).catch(() => {})));
    this.live.clear();
    this.reaper.stop();
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
