import type { Logger } from 'pino';
import { UsageError } from '../errors';
import type { Executor } from '../executor';
import { createDockerClient, type DockerClient, dockerHost, pingDocker } from '../executors/container/engine-client';
import { DockerUnavailableError } from '../executors/container/errors';
import { warnOnNodeMismatch } from '../executors/container/image-node';
import { localEngineHasOrphans, type PruneOptions } from '../executors/container/orphans';
import type { FlowInvocation } from '../step/invocation';
import { DockerExecutor } from '../executors/docker/docker-executor';
import { pruneContainers } from '../executors/docker/prune';
import { ensureRunnerImage, RunnerImageBuildError } from '../executors/docker/runner-image';
import { InProcessExecutor } from '../executors/in-process';
import { assertRunnableOnSwarm } from '../executors/swarm/local-targets';
import { isSwarmManager, pruneServices } from '../executors/swarm/prune';
import { defaultSwarmImage, SwarmExecutor } from '../executors/swarm/swarm-executor';
import type { TaskGraph } from '../graph';
import { deferredExecutor, localEngineSocket, pingLocalEngine } from './deferred-executor';
import type { Store } from '../store/store';

export type { FlowInvocation };

/** What every executor's set-up gets from the flow. */
export interface ExecutorSetup {
  readonly logger: Logger;
  readonly invocation: FlowInvocation;
  readonly store: Store | string;
  /** The flow's tasks, for executors that must refuse a flow before anything runs (swarm: no local targets). */
  readonly graph?: TaskGraph;
}

/** One `--executor` choice: its help line and how it is set up (checks first, so a usage error writes nothing). */
export interface ExecutorEntry {
  readonly summary: string;
  create(setup: ExecutorSetup): Promise<Executor>;
  /** For `dagwright prune`: removes (or with `dryRun` lists) the steps that killed flows of this executor left on the engine. */
  prune?(docker: DockerClient, options: PruneOptions): Promise<PrunedSteps>;
}

/** What one executor's prune found, for `dagwright prune` to print. */
export interface PrunedSteps {
  /** What a step is on the engine: 'container', 'service'. */
  readonly noun: string;
  readonly steps: readonly PrunedStep[];
}

export interface PrunedStep {
  /** How the step is named in prune's output: its container's id and state, its service's name. */
  readonly label: string;
  readonly runId: string | undefined;
  readonly taskId: string | undefined;
  readonly removed: boolean;
  readonly error?: string;
}

/** How long `auto` and `docker` wait for the engine's ping. */
const pingTimeoutMs = 1000;
/** How long `swarm` waits: its manager is often remote (an ssh:// connection takes a while to open). */
const swarmPingTimeoutMs = 10_000;


/** A Docker executor on an engine that answered, after removing what killed flows left and building the runner image if missing. */
async function dockerOn(docker: DockerClient, setup: ExecutorSetup): Promise<Executor> {
  await reportPruned(setup.logger, pruneContainers(docker), 'container');
  await ensureRunnerImage(docker, { logger: setup.logger });
  return new DockerExecutor({ docker, invocation: setup.invocation, store: setup.store });
}

/** Orphans of dead flow processes are removed before a run plans: at the latest, the next run stops them. */
async function reportPruned(logger: Logger, pruned: Promise<readonly { removed: boolean; taskId?: string }[]>, what: string): Promise<void> {
  const removed = (await pruned.catch(() => [])).filter((p) => p.removed);
  if (removed.length > 0) logger.warn({ tasks: removed.map((p) => p.taskId) }, `removed ${removed.length} ${what}(s) that a killed flow left running`);
}

/** The `--executor` table: adding an executor is one entry here. */
export const executors = {
  auto: {
    summary: 'Docker when an engine answers (building the runner image if missing), else in process',
    async create(setup) {
      // A local engine is asked with a plain HTTP ping and the Docker executor is set up when a task first
      // runs: a re-run with nothing to do never loads dockerode nor calls the engine again.
      const host = dockerHost();
      const socket = localEngineSocket(host);
      const docker = socket === undefined ? createDockerClient() : undefined;
      try {
        await (docker ? pingDocker(docker, pingTimeoutMs) : pingLocalEngine(socket!, host, pingTimeoutMs));
      } catch (err) {
        if (!(err instanceof DockerUnavailableError)) throw err;
        setup.logger.info({ dockerHost: host }, `no Docker engine answered within ${pingTimeoutMs} ms; running tasks in process`);
        return new InProcessExecutor();
      }
      const dockerOrInProcess = async (client: DockerClient): Promise<Executor> => {
        try {
          return await dockerOn(client, setup);
        } catch (err) {
          if (!(err instanceof RunnerImageBuildError)) throw err;
          setup.logger.warn({ err }, `${err.message} Running tasks in process instead.`);
          return new InProcessExecutor();
        }
      };
      // Orphans of killed flows are removed before the run plans: then the set-up (which prunes) cannot wait.
      if (docker === undefined && (await localEngineHasOrphans(socket!, pingTimeoutMs))) return dockerOrInProcess(createDockerClient());
      return docker ? dockerOrInProcess(docker) : deferredExecutor('docker', () => dockerOrInProcess(createDockerClient()));
    },
    // Its steps are the docker entry's containers: pruned there.
  },
  inprocess: {
    summary: 'every task in this process',
    create: async () => new InProcessExecutor(),
  },
  docker: {
    summary: 'every step in its own container on the Docker engine (DOCKER_HOST)',
    async create(setup) {
      const docker = createDockerClient();
      await pingDocker(docker, pingTimeoutMs);
      try {
        return await dockerOn(docker, setup);
      } catch (err) {
        if (err instanceof RunnerImageBuildError) throw new UsageError(err.message, { cause: err });
        throw err;
      }
    },
    async prune(docker, options) {
      const pruned = await pruneContainers(docker, options);
      return { noun: 'container', steps: pruned.map(({ id, state, runId, taskId, removed, error }) => ({ label: `${id} (${state})`, runId, taskId, removed, error })) };
    },
  },
  swarm: {
    summary: 'every step as a one-shot Swarm service on the manager at DOCKER_HOST (needs an s3:// store)',
    async create(setup) {
      // Checks that need no engine come first: a local store or local targets are refused at once.
      assertRunnableOnSwarm(setup.store, setup.graph);
      const docker = createDockerClient();
      await pingDocker(docker, swarmPingTimeoutMs);
      const image = process.env.DAGWRIGHT_SWARM_IMAGE || defaultSwarmImage;
      const executor = new SwarmExecutor({ docker, invocation: setup.invocation, store: setup.store, image });
      await executor.prepare(setup.graph);
      await warnOnNodeMismatch(docker, image, setup.logger);
      await reportPruned(setup.logger, pruneServices(docker), 'service');
      return executor;
    },
    async prune(docker, options) {
      const pruned = (await isSwarmManager(docker)) ? await pruneServices(docker, options) : [];
      return { noun: 'service', steps: pruned.map(({ name, runId, taskId, removed, error }) => ({ label: `service ${name}`, runId, taskId, removed, error })) };
    },
  },
} satisfies Record<string, ExecutorEntry>;

export type ExecutorName = keyof typeof executors;
export const executorNames = Object.keys(executors) as ExecutorName[];

/** `dagwright prune`'s step part: every executor of the table removes (or lists) what killed flows left on `docker`'s engine. */
export async function pruneSteps(docker: DockerClient, options: PruneOptions): Promise<PrunedSteps[]> {
  const entries: ExecutorEntry[] = Object.values(executors);
  const pruned: PrunedSteps[] = [];
  for (const entry of entries) if (entry.prune) pruned.push(await entry.prune(docker, options));
  return pruned;
}

/** Makes the executor `--executor` names; usage errors (no engine, a refused flow) are thrown before anything is written. */
export async function createExecutor(name: ExecutorName, setup: ExecutorSetup): Promise<Executor> {
  const entry: ExecutorEntry | undefined = executors[name];
  if (entry === undefined) throw new UsageError(`--executor ${String(name)} is not available in this version of dagwright; expected one of ${executorNames.join(', ')}.`);
  return entry.create(setup);
}
