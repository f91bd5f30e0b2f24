import { Task } from '../../task';
import { ContainerTaskNeedsDockerError } from './errors';

/**
 * A step that is an image and a command (Python, a shell script, a binary)
 * rather than TypeScript, like Luigi's DockerTask or Airflow's
 * DockerOperator. Pass its targets through the command's arguments or the
 * environment: `command()` returns an argument array (never a shell string),
 * typically built from `this.output()` and `this.input()` paths. The project
 * folder and the local store are mounted at their own paths; add others with
 * `resources.mounts`. Set the image with `resources.image` or `image()`.
 *
 * Only the Docker executor runs it; in process, `run()` fails at once and is
 * not retried.
 */
export abstract class ContainerTask<P extends object = Record<string, never>> extends Task<P> {
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
