import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { type DockerClient, statusCode } from '../container/engine-client';
import { ContainerExitError, ImageNotFoundError } from '../container/errors';
import type { StepLogSink } from '../container/log-stream';
import type { EngineStep, StepAttempt, StepEnd, StepEngine } from '../container/step-engine';
import { containerOptions, type StepSpec } from './container-spec';

/** How long a step's output may still arrive after its container exited. */
const logDrainMs = 2000;

/** Steps as containers on one Docker engine. */
export class DockerEngine implements StepEngine<StepSpec> {
  constructor(readonly client: DockerClient) {}

  async create({ task, spec, ctx, sink, redactor }: StepAttempt<StepSpec>): Promise<EngineStep> {
    ctx.logger.debug({ image: spec.image, command: spec.command.map((a) => redactor.text(a)), user: spec.user, network: spec.network }, 'starting container');
    try {
      const container = await this.client.createContainer(containerOptions(spec));
      return new ContainerStep(this.client, container, task.id, sink, ctx.logger);
    } catch (err) {
      if (statusCode(err) === 404) throw new ImageNotFoundError(task.id, spec.image);
      throw err;
    }
  }
}

/** One attempt's container. */
class ContainerStep implements EngineStep {
  private readonly waitAbort = new AbortController();
  private stopped = false;
  private stopLogs: (() => void) | undefined;

  constructor(
    private readonly docker: DockerClient,
    private readonly container: Docker.Container,
    private readonly taskId: string,
    private readonly sink: StepLogSink,
    private readonly logger: Logger,
  ) {}

  get id(): string {
    return this.container.id;
  }

  async run(): Promise<StepEnd> {
    // Waiting for the next exit before starting cannot miss a container that exits at once.
    const exited = (this.container.wait as (opts: object) => Promise<{ StatusCode: number }>).call(this.container, {
      condition: 'next-exit',
      abortSignal: this.waitAbort.signal,
    });
    exited.catch(() => {});
    await this.container.start();
    if (this.stopped) throw new Error(`${this.taskId}: the attempt ended while its container started`);
    this.logger.debug({ containerId: this.container.id.slice(0, 12) }, 'started container');
    const logs = this.followLogs();
    const { StatusCode: code } = await exited;
    // The output ends when the container does; do not let a stuck stream hold the task. The timer stays
    // referenced: with the log socket unref-ed it is what keeps the process alive until the output is in.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([logs, new Promise((r) => (timer = setTimeout(r, logDrainMs)))]);
    clearTimeout(timer);
    return { ok: code === 0, code, containerId: this.container.id };
  }

  async failure(end: StepEnd): Promise<Error> {
    return new ContainerExitError(this.taskId, end.code ?? -1, this.sink.tail());
  }

  stop(): void {
    this.stopped = true;
    this.waitAbort.abort();
    this.stopLogs?.();
  }

  /** Force: kills one that still runs, cancelled or timed out, in the same call. */
  remove(logger?: Logger): Promise<void> {
    return this.container.remove({ force: true, v: true }).catch((err: unknown) => {
      if (logger && statusCode(err) !== 404) logger.warn({ err, containerId: this.container.id.slice(0, 12) }, 'could not remove container; `dagwright prune` removes it later');
    });
  }

  /** Streams the container's stdout and stderr, demultiplexed, into the sink; settles when its output has ended (or could not be read). */
  private async followLogs(): Promise<void> {
    let source: Readable | undefined;
    let stopped = false;
    this.stopLogs = () => {
      stopped = true;
      source?.destroy();
    };
    try {
      source = (await this.container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
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
    out.pipe(this.sink.stdout);
    errOut.pipe(this.sink.stderr);
    const ended = Promise.all([new Promise((r) => this.sink.stdout.once('finish', r)), new Promise((r) => this.sink.stderr.once('finish', r))]);
    this.docker.modem.demuxStream(source, out, errOut);
    await new Promise<void>((resolve) => {
      source!.once('end', resolve);
      source!.once('close', resolve);
      source!.once('error', () => resolve());
    });
    out.end();
    errOut.end();
    await ended;
  }
}
