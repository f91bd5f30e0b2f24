import { DagwrightError, UsageError } from '../../errors';
import { ExitCode } from '../../step/exit-codes';

/** How to get an engine on the machines dagwright supports; part of several messages. */
export const startEngineHint =
  'Start one with `.ci/docker-up` (installs Debian\'s docker.io if needed and starts it without a bridge network) ' +
  'or `sudo systemctl start docker`, or run with --executor inprocess.';

/** `--executor docker` (or a DockerExecutor) was asked for, but no Docker engine answered. */
export class DockerUnavailableError extends UsageError {
  constructor(
    readonly host: string,
    cause: unknown,
  ) {
    super(`no Docker engine answers at ${host} (${cause instanceof Error ? cause.message : String(cause)}). ${startEngineHint}`, { cause });
  }
}

/** A step's image is not on the engine; another attempt cannot help until it is built or pulled. */
export class ImageNotFoundError extends DagwrightError {
  constructor(
    readonly taskId: string,
    readonly image: string,
  ) {
    super(
      `${taskId}: image ${image} is not on the Docker engine. ` +
        (image.startsWith('dagwright/')
          ? 'Build it with `containers/build` (`containers/build --offline` on a machine without a registry).'
          : `Build it, or fetch it with \`docker pull ${image}\`.`),
    );
  }
}

/** A step's container exited with a non-zero code; the message ends with the last lines it logged. */
export class ContainerExitError extends DagwrightError {
  override readonly retryable: boolean = true;
  constructor(
    readonly taskId: string,
    readonly exitCode: number,
    readonly logTail: readonly string[],
    what = `container exited with code ${exitCode}`,
  ) {
    super(`${taskId}: ${what}${logTail.length > 0 ? `; last ${logTail.length} log line(s):\n  ${logTail.join('\n  ')}` : ' and logged nothing'}`);
    // A TypeScript step says so when its task's error is not retryable (a corrupt input file): no retry then.
    if (exitCode === ExitCode.stepFailedNotRetryable) this.retryable = false;
  }
}

/**
 * The kernel killed a step's container for using more than its memory limit
 * (`resources.memoryMb`), as the engine flagged it (`certain`) or as a
 * SIGKILL under a limit suggests (`likely`). Not retried: the same step under
 * the same limit almost always needs the same memory again; raise the limit.
 */
export class ContainerOutOfMemoryError extends ContainerExitError {
  override readonly retryable = false;
  constructor(taskId: string, exitCode: number, logTail: readonly string[], readonly memoryMb: number | undefined, certain = true) {
    const limit = memoryMb === undefined ? "the engine's" : `${memoryMb} MB`;
    super(
      taskId,
      exitCode,
      logTail,
      certain
        ? `container was killed for running out of memory (limit ${limit}; raise resources.memoryMb)`
        : `container was killed (SIGKILL, exit ${exitCode}) under a memory limit of ${limit}, most likely for running out of memory (raise resources.memoryMb)`,
    );
  }
}

/** A ContainerTask was run by an executor that does not run containers. */
export class ContainerTaskNeedsDockerError extends DagwrightError {
  constructor(readonly taskId: string) {
    super(
      `${taskId}: is a ContainerTask (an image and a command), so only the Docker executor can run it; ` +
        `run the flow with --executor docker (or auto with an engine running). ${startEngineHint.replace(', or run with --executor inprocess', '')}`,
    );
  }
}

/** The Docker executor cannot start TypeScript tasks in containers: it has no flow entry point to run. */
export class NoFlowInvocationError extends UsageError {
  constructor(readonly taskId: string) {
    super(
      `${taskId}: the Docker executor runs a TypeScript task by starting the flow script again in a container with --run-task, ` +
        'but it was created without `invocation` (the flow script and its arguments). Run the flow through runFlow() ' +
        'with --executor docker, pass `invocation` to new DockerExecutor(), or make the step a ContainerTask.',
    );
  }
}
