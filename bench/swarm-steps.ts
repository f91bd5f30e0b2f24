/**
 * What the Swarm executor costs per step, against the Docker executor, on the
 * same 10-step chain of `node -e 0` steps in the same image
 * (`dagwright/runner:latest`). Makes a one-node swarm on loopback when the
 * engine is not in one, and leaves it (removing docker_gwbridge) afterwards.
 *
 *   npm run bench:swarm            (needs .ci/docker-up and containers/build)
 *
 * Prints the figures, then one JSON line: bench, swarm_ms_per_step,
 * docker_ms_per_step, ratio.
 *
 *   npm run bench:swarm -- --cluster   (root; makes a three-node swarm, see bench/swarm-cluster.ts)
 *
 * The same chain on a three-node swarm with a registry, against the same
 * swarm with every step pinned to one node and against the Docker executor on
 * that node's engine, and the time from a worker's loss to the last affected
 * step succeeding elsewhere. Never touches this machine's own engine's swarm.
 */
import { availableParallelism } from 'node:os';
import { type AnyTask, ContainerTask, param, run } from '../src';
import { createLogger } from '../src/public/runtime';
import { DockerExecutor, type Executor, SwarmExecutor } from '../src/public/executors';
import { createDockerClient, defaultRunnerImage, pingDocker } from '../src/executors/docker';
import { joinOrCreateSwarm, leaveSwarm, type SwarmHandle } from '../test/helpers/swarm';

/** `node -e 0`; `after` chains them. */
class NodeZero extends ContainerTask<{ i: number; group: string }> {
  static override params = { i: param.int(), group: param.string() };

  override requires() {
    return this.params.i === 0 ? [] : [new NodeZero({ i: this.params.i - 1, group: this.params.group })];
  }

  command() {
    return ['node', '-e', '0'];
  }
}

const image = defaultRunnerImage;
const silent = createLogger({ level: 'silent' });
const steps = 10;
const rounds = 5;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const progress = (text: string) => process.stderr.write(`swarm-steps: ${text}\n`);

async function main(): Promise<void> {
  const docker = createDockerClient();
  await pingDocker(docker, 2000);
  await docker.getImage(image).inspect().catch(() => {
    throw new Error(`${image} is missing: build it with containers/build (--offline without a registry)`);
  });
  let swarm: SwarmHandle | undefined;
  try {
    swarm = await joinOrCreateSwarm(docker);
    if (swarm.created) progress('made a one-node swarm on 127.0.0.1 (left again at the end)');
    const swarmExecutor = new SwarmExecutor({ docker, image });
    const dockerExecutor = new DockerExecutor({ docker, image });
    await swarmExecutor.prepare();
    const chainMs = async (executor: Executor, group: string) => {
      const root: AnyTask = new NodeZero({ i: steps - 1, group });
      const t = performance.now();
      const summary = await run(root, { executor, logger: silent, workers: 1 });
      const ms = performance.now() - t;
      if (!summary.ok) throw new Error(`bench run failed: ${JSON.stringify(summary.tasks.filter((x) => x.status !== 'ran'))}`);
      return ms / steps;
    };

    progress('warming up');
    await run(new NodeZero({ i: 0, group: 'warm-docker' }), { executor: dockerExecutor, logger: silent });
    await run(new NodeZero({ i: 0, group: 'warm-swarm' }), { executor: swarmExecutor, logger: silent });

    // Alternating, so that load from elsewhere on the machine hits both alike.
    const swarmMs: number[] = [];
    const dockerMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      progress(`chain round ${r + 1} of ${rounds}`);
      // Which goes first alternates too.
      if (r % 2 === 0) {
        dockerMs.push(await chainMs(dockerExecutor, `docker${r}`));
        swarmMs.push(await chainMs(swarmExecutor, `swarm${r}`));
      } else {
        swarmMs.push(await chainMs(swarmExecutor, `swarm${r}`));
        dockerMs.push(await chainMs(dockerExecutor, `docker${r}`));
      }
    }
    await Promise.all([swarmExecutor.close(), dockerExecutor.close()]);
    const ours = median(swarmMs);
    const base = median(dockerMs);
    const out = process.stdout;
    out.write(`swarm-steps on ${availableParallelism()} core(s), image ${image}, chain of ${steps} x node -e 0; medians of ${rounds} rounds\n`);
    out.write(`  swarm  ${round(ours)} ms/step   (rounds: ${swarmMs.map((m) => round(m)).join(', ')})\n`);
    out.write(`  docker ${round(base)} ms/step   (rounds: ${dockerMs.map((m) => round(m)).join(', ')})\n`);
    out.write(`  ratio  ${round(ours / base, 2)} (target <= 1.25)\n`);
    out.write(`${JSON.stringify({ bench: 'swarm-steps', swarm_ms_per_step: round(ours), docker_ms_per_step: round(base), ratio: round(ours / base, 3) })}\n`);
  } finally {
    await leaveSwarm(docker, swarm);
  }
}

if (require.main === module) {
  const cluster = process.argv.includes('--cluster');
  (cluster ? Promise.resolve().then(() => (require('./swarm-cluster') as typeof import('./swarm-cluster')).clusterBench()) : main()).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
