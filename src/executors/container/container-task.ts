import { Task } from '../../task';
import { ContainerTaskNeedsDockerError } from './errors';

/**
 * A step that is an image and a command (Python, a shell script, a binary)
 * rather than TypeScript, like Luigi's DockerTask or Airflow's
 * DockerOperator. Pass its targets through the command's arguments or the
 * environment: `command()` returns an argument array (never a shell string),
 * typically built from `this.output()` and `this.input()` paths. The project
 * folder and the local store are mounted read-only at their own paths; add
 * others with `resources.mounts`. Set the image with `resources.image` or
 * `image()`.
 *
 * Outputs are atomic whatever the command does: the Docker executor gives
 * each local output a staging folder, replaces the output's path by the
 * staged one in the command and environment, and publishes what the command
 * wrote only when it exited 0 (a failed, cancelled or killed attempt leaves
 * nothing at the output's path).
 *
 * The container executors (Docker, Swarm) run it; in process, `run()` fails at
 * once and is not retried.
 */
export abstract class ContainerTask<P extends object = object> extends Task<P> {
  /** The program and its arguments, one element each. */
  abstract command(): readonly string[];

  /** The image; default `resources.image`, else the executor's runner image. */
  image(): string | undefined {
    return this.resources?.image;
  }

  /** Environment for the command, over `resources.env`. */
  environment(): Record<string, string> {
    return {};
  }

  /** The command's working directory; default the flow's working directory. */
  workingDir(): string | undefined {
    return undefined;
  }

  async run(): Promise<void> {
    throw new ContainerTaskNeedsDockerError(this.id);
  }
}

/** What a `ContainerTask` asks an executor to run. */
export interface ContainerStep {
  readonly image: string;
  readonly command: readonly string[];
  readonly env: Record<string, string>;
  readonly workingDir: string | undefined;
}

/** Reads and checks what `task` asks to run; `image` when it names none. */
export function containerTaskStep(task: ContainerTask, image: string): ContainerStep {
  const command = task.command();
  if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string')) {
    throw new TypeError(`${task.id}: command() must return a non-empty array of strings, got ${JSON.stringify(command)}`);
  }
  return { image: task.image() ?? image, command, env: task.environment(), workingDir: task.workingDir() };
}
