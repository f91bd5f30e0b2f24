import type { Logger } from 'pino';
import type { AnyTask, TaskContext, TaskMount } from '../../task';
import type { DockerClient } from './engine-client';
import type { StepLogSink } from './log-stream';
import type { Redactor } from './redact';

/**
 * What the shared step runner (step-runner.ts) needs from an engine that
 * runs one attempt of a step in a container: Docker runs a container,
 * Swarm a one-shot service, a Kubernetes executor would run a Job. The
 * runner keeps the rest: logs into the task's logger, the abort, the exit
 * handling, hand-back of dynamic requirements, removal and `close()`.
 */
export interface StepEngine<Spec extends EngineStepSpec> {
  /** The engine's client, asked whether a killed step ran out of memory. */
  readonly client: DockerClient;
  /**
   * Creates the attempt's container or service. Not raced against the
   * attempt's abort: one created after we stopped waiting would be left
   * behind; the runner removes it at once instead.
   */
  create(attempt: StepAttempt<Spec>): Promise<EngineStep>;
}

/** What the spec of every step carries, whatever the engine. */
export interface EngineStepSpec {
  readonly image: string;
  /** Program and arguments, one element each: never a shell string. */
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** On the container (and on a service, for engines that make one). */
  readonly labels: Readonly<Record<string, string>>;
  /** Bind mounts; on a cluster, paths that exist on every node that may run the step (an NFS mount, say). */
  readonly mounts: readonly TaskMount[];
  readonly workingDir?: string;
  /** Numeric "uid:gid"; the image's user when undefined. */
  readonly user?: string;
  /** The engine's predefined networks only, never one of the step's own. */
  readonly network: 'none' | 'host';
  readonly cpus?: number;
  readonly memoryMb?: number;
}

/** One attempt of a step as the engine is asked to run it. */
export interface StepAttempt<Spec extends EngineStepSpec> {
  readonly task: AnyTask;
  readonly spec: Spec;
  readonly ctx: TaskContext;
  /** Where the step's output goes: the task's logger, its progress, the tail quoted in errors. */
  readonly sink: StepLogSink;
  /** Secrets out of anything logged about the step (its command, an engine's message). */
  readonly redactor: Redactor;
}

/** How a step ended. */
export interface StepEnd {
  readonly ok: boolean;
  /** The step's exit code; undefined when it never got to exit (a Swarm task rejected). */
  readonly code: number | undefined;
  /** The container it ran in, for the out-of-memory verdict. */
  readonly containerId: string | undefined;
}

/** A created container or service. */
export interface EngineStep {
  readonly id: string;
  /** Starts it unless creating did, streams its output into the sink, and settles once it ended and its output is in. */
  run(): Promise<StepEnd>;
  /** The error for an end that is no success, no out-of-memory kill and no request for dynamic requirements. */
  failure(end: StepEnd): Promise<Error>;
  /** Stops following it (log streams, waits); called once the attempt is over, before `remove`. */
  stop(): void;
  /** Removes it, killing it if it still runs; failures are logged to `logger` when given, never thrown. */
  remove(logger?: Logger): Promise<void>;
}
