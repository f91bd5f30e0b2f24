import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { CancelledError } from '../../errors';
import type { Executor } from '../../executor';
import type { FlowInvocation } from '../../flow/executors';
import type { FileTarget } from '../../targets/file-target';
import type { AnyTask, TaskContext, TaskMount } from '../../task';
import { abortion } from '../in-process';
import { createDockerClient, type DockerClient } from './client';
import { containerOptions, type StepSpec } from './container-spec';
import { ContainerTask, containerTaskStep } from './container-task';
import { ContainerExitError, ContainerOutOfMemoryError, ImageNotFoundError, NoFlowInvocationError } from './errors';
import { currentOwner, stepLabels, type ContainerOwner } from './labels';
import { StepLogSink } from './log-stream';
import { dedupeMounts, findProjectRoot, isInside, outerNodeModules } from './project';
import { Redactor } from './redact';
import { compileProject, type CompiledProject } from './ts-cache';

/** How long a step's output may still arrive after its container exited. */
const logDrainMs = 2000;

/** The image steps run in unless a task names another; build it with `containers/build`. */
export const defaultRunnerImage = 'dagwright/runner:latest';

/** Host environment passed to every step by default: S3 settings and credentials, dagwright's own settings, locale (values of secret-named ones never reach a log). */
export const defaultPassEnv: readonly string[] = ['AWS_*', 'DAGWRIGHT_S3_*', 'TZ', 'LANG'];

export interface DockerExecutorOptions {
  /** Default: a client for DOCKER_HOST or the default socket. */
  docker?: DockerClient;
  /** How to start the flow again for one task; needed to run TypeScript tasks (runFlow passes it). */
  invocation?: FlowInvocation;
  /**
   * The flow's store: a local folder is mounted read-write at its own path. With a remote store (s3://)
   * nothing is mounted and steps get the host's network by default, since they must reach the store.
   */
  store?: string;
  /** Default `dagwright/runner:latest`. */
  image?: string;
  /** Numeric "uid:gid" steps run as; default the invoking user's, so outputs belong to them. */
  user?: string;
  /** Mounted read-write at its own path; default the folder with package.json above the flow script (or the working directory). */
  projectRoot?: string;
  /** Where TypeScript is compiled for containers; default `<project>/node_modules/.cache/dagwright/ts`. */
  cacheDir?: string;
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

export function uidGid(): string | undefined {
  return typeof process.getuid === 'function' && typeof process.getgid === 'function' ? `${process.getuid()}:${process.getgid()}` : undefined;
}

export function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export function passedEnv(patterns: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (patterns.some((p) => (p.endsWith('*') ? key.startsWith(p.slice(0, -1)) : key === p))) out[key] = value;
  }
  return out;
}

/**
 * A step's environment: the host variables `passEnv` names, then the task's
 * own, then the ids that `--run-task` reads inside the container.
 */
export function stepEnvironment(passEnv: readonly string[], taskEnv: Record<string, string>, ctx: TaskContext): Record<string, string> {
  return {
    ...passedEnv(passEnv, process.env),
    ...taskEnv,
    DAGWRIGHT_RUN_ID: ctx.runId,
    DAGWRIGHT_TASK_ID: ctx.taskId,
    DAGWRIGHT_ATTEMPT: String(ctx.attempt),
  };
}

/** Local file outputs of a task (those with a path on this machine and a remove()). */
function localOutputs(task: AnyTask): FileTarget[] {
  return task.outputList().filter((t): t is FileTarget => {
    const f = t as Partial<FileTarget>;
    return typeof f.path === 'string' && typeof f.remove === 'function' && f.uri === f.path;
  });
}

/**
 * Runs every step in its own container through the Docker engine. A
 * TypeScript task runs as the same flow script started with `--run-task <id>`
 * (rebuilding the DAG inside, with the project compiled once on the host); a
 * `ContainerTask` runs its own image and command. The project folder and the
 * local store are mounted at their own paths, steps run as the invoking user
 * with no network and no privileges, their logs stream into the task's
 * logger, and every container is removed when its attempt ends.
 */
export class DockerExecutor implements Executor {
  readonly name = 'docker';
  readonly docker: DockerClient;
  readonly owner: ContainerOwner;
  private readonly image: string;
  private readonly user: string | undefined;
  private readonly root: string;
  private readonly cacheDir: string;
  private readonly store: string | undefined;
  private readonly remoteStore: boolean;
  private readonly baseMounts: TaskMount[];
  private readonly passEnv: readonly string[];
  private readonly tailLines: number;
  private compiled: Promise<CompiledProject> | undefined;
  private storeReady: Promise<unknown> | undefined;
  private readonly live = new Set<Docker.Container>();
  private readonly removals = new Set<Promise<void>>();

  constructor(private readonly options: DockerExecutorOptions = {}) {
    this.docker = options.docker ?? createDockerClient();
    this.owner = currentOwner(`${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    this.image = options.image ?? defaultRunnerImage;
    this.user = options.user ?? uidGid();
    this.root = options.projectRoot ?? findProjectRoot(options.invocation ? join(options.invocation.entry, '..') : process.cwd());
    const modules = join(this.root, 'node_modules');
    this.cacheDir = options.cacheDir ?? (existsSync(modules) ? join(modules, '.cache', 'dagwright', 'ts') : join(this.root, '.dagwright-cache', 'ts'));
    this.remoteStore = options.store !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(options.store);
    this.store = options.store !== undefined && !this.remoteStore ? options.store : undefined;
    this.passEnv = options.passEnv ?? defaultPassEnv;
    this.tailLines = options.logTailLines ?? 20;
    this.baseMounts = dedupeMounts([
      { source: this.root },
      ...(this.store === undefined ? [] : [{ source: this.store }]),
      ...(isInside(this.cacheDir, this.root) ? [] : [{ source: this.cacheDir, readOnly: true }]),
      ...outerNodeModules(this.root).map((source) => ({ source, readOnly: true })),
    ]);
  }

  /** Compiles the project's TypeScript for containers (once per executor; later calls share it). */
  prepare(): Promise<CompiledProject> {
    this.compiled ??= compileProject(this.root, this.cacheDir);
    this.compiled.catch(() => (this.compiled = undefined));
    return this.compiled;
  }

  async execute(task: AnyTask, ctx: TaskContext): Promise<void> {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new CancelledError(task.id);
    const spec = await this.stepSpec(task, ctx);
    const isContainerTask = task instanceof ContainerTask;
    // A ContainerTask's command writes its outputs in place: remove what a failed attempt left half-written.
    const outputs = isContainerTask ? localOutputs(task) : [];
    const existedBefore = await Promise.all(outputs.map((t) => t.exists()));
    try {
      await this.runContainer(task, spec, ctx);
    } catch (err) {
      await Promise.all(outputs.map((t, i) => (existedBefore[i] ? undefined : t.remove().catch(() => {}))));
      throw err;
    }
  }

  /** What the step's container is made from: the image, the command and the resources the task asks for. */
  private async stepSpec(task: AnyTask, ctx: TaskContext): Promise<StepSpec> {
    const res = task.resources ?? {};
    let image = res.image ?? this.image;
    let command: readonly string[];
    let taskEnv: Record<string, string> = {};
    let workingDir: string | undefined;
    if (task instanceof ContainerTask) {
      ({ image, command, env: taskEnv, workingDir } = containerTaskStep(task, image));
    } else {
      const invocation = this.options.invocation;
      if (invocation === undefined) throw new NoFlowInvocationError(task.id);
      const entry = invocation.entry;
      const ts = entry.endsWith('.ts');
      const compiled = ts ? await this.prepare() : undefined;
      command = ['node', ...(compiled ? ['-r', compiled.hook] : []), entry, ...invocation.args, '--run-task', task.id];
    }
    if (this.store !== undefined) {
      this.storeReady ??= mkdir(this.store, { recursive: true });
      await this.storeReady;
    }
    const cwd = process.cwd();
    return {
      image,
      command,
      env: stepEnvironment(this.passEnv, { ...res.env, ...taskEnv }, ctx),
      labels: stepLabels(this.owner, ctx.runId, task.id, ctx.attempt),
      mounts: dedupeMounts([...this.baseMounts, ...(res.mounts ?? [])]),
      workingDir: workingDir ?? (this.baseMounts.some((m) => isInside(cwd, m.source)) ? cwd : this.root),
      user: res.user ?? this.user,
      network: res.network ?? (this.remoteStore ? 'host' : 'none'),
      cpus: res.cpus,
      memoryMb: res.memoryMb,
      gpus: res.gpus,
    };
  }

  private async runContainer(task: AnyTask, spec: StepSpec, ctx: TaskContext): Promise<void> {
    const logger = ctx.logger;
    const redactor = new Redactor(spec.env);
    const sink = new StepLogSink(logger, redactor, this.tailLines);
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
      const state = await container
        .inspect()
        .then((info) => info.State)
        .catch(() => undefined);
      if (state?.OOMKilled) throw new ContainerOutOfMemoryError(task.id, code, sink.tail(), spec.memoryMb);
      throw new ContainerExitError(task.id, code, sink.tail());
    } catch (err) {
      if (!(err instanceof ContainerExitError) && !(err instanceof ImageNotFoundError) && !ctx.signal.aborted) {
        logger.debug({ err }, 'container step failed');
      }
      throw err;
    } finally {
      aborted.dispose();
      waitAbort.abort();
      logs?.stop();
      if (container) {
        const done = container;
        // force: kills a container that still runs (cancelled or timed out) in the same call.
        const removal: Promise<void> = done
          .remove({ force: true, v: true })
          .catch((err: unknown) => {
            if (statusCode(err) !== 404) logger.warn({ err, containerId: done.id.slice(0, 12) }, 'could not remove container; `dagwright prune` removes it later');
          })
          .finally(() => {
            this.live.delete(done);
            this.removals.delete(removal);
          });
        // After a success the next step need not wait for the engine to delete this one; close() waits for it.
        if (succeeded) this.removals.add(removal);
        else await removal;
      }
    }
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
  }
}
