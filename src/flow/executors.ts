import type { Logger } from 'pino';
import { UsageError } from '../errors';
import type { Executor } from '../executor';
import { createDockerClient, dockerHost, pingDocker } from '../executors/docker/client';
import { DockerExecutor } from '../executors/docker/docker-executor';
import { DockerUnavailableError } from '../executors/docker/errors';
import { InProcessExecutor } from '../executors/in-process';
import { assertRunnableOnSwarm } from '../executors/swarm/local-targets';
import { SwarmExecutor } from '../executors/swarm/swarm-executor';
import type { TaskGraph } from '../graph';
import type { ExecutorName } from './cli-args';

/** How long `auto` and `docker` wait for the engine's ping. */
const pingTimeoutMs = 1000;
/** How long `swarm` waits: its manager is often remote (an ssh:// connection takes a while to open). */
const swarmPingTimeoutMs = 10_000;

/** How to start this flow again for a single task, in another process or container. */
export interface FlowInvocation {
  /** Absolute path of the flow script. */
  readonly entry: string;
  /** The flow's parameters and standard options as command-line arguments. */
  readonly args: readonly string[];
}

export interface ExecutorSetup {
  readonly logger: Logger;
  readonly invocation: FlowInvocation;
  readonly store: string;
  /** The flow's tasks, for executors that must refuse a flow before anything runs (swarm: no local targets). */
  readonly graph?: TaskGraph;
}

/** Makes the executor `--executor` names. */
export async function createExecutor(name: ExecutorName, setup: ExecutorSetup): Promise<Executor> {
  switch (name) {
    case 'inprocess':
      return new InProcessExecutor();
    case 'docker':
    case 'auto': {
      const docker = createDockerClient();
      try {
        await pingDocker(docker, pingTimeoutMs);
      } catch (err) {
        if (name === 'docker' || !(err instanceof DockerUnavailableError)) throw err;
        setup.logger.info({ dockerHost: dockerHost() }, `no Docker engine answered within ${pingTimeoutMs} ms; running tasks in process`);
        return new InProcessExecutor();
      }
      return new DockerExecutor({ docker, invocation: setup.invocation, store: setup.store });
    }
    case 'swarm': {
      // Checks that need no engine come first: a local store or local targets are refused at once.
      assertRunnableOnSwarm(setup.store, setup.graph);
      const docker = createDockerClient();
      await pingDocker(docker, swarmPingTimeoutMs);
      const executor = new SwarmExecutor({ docker, invocation: setup.invocation, store: setup.store, image: process.env.DAGWRIGHT_SWARM_IMAGE || undefined });
      await executor.prepare(setup.graph);
      return executor;
    }
    default:
      throw new UsageError(`--executor ${name} is not available in this version of dagwright; use --executor inprocess.`);
  }
}
