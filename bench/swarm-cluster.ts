/**
 * The cluster mode of bench/swarm-steps.ts (`npm run bench:swarm -- --cluster`, as root):
 * a three-node swarm on this machine (test/helpers/cluster.ts) with
 * `dagwright/runner:latest` pulled by digest from its registry; per-step cost
 * of a 10-step chain of `node -e 0` steps on three nodes, on one node of the
 * same swarm (steps pinned to the manager), and with the Docker executor on
 * the manager's engine, alternating rounds; then 6 steps of 6 s spread over
 * the nodes, one worker lost while they run, and the time from the loss to
 * the last of its steps succeeding elsewhere (retry delay 0).
 *
 * Prints figures, then one JSON line: bench, three_node_ms_per_step,
 * one_node_ms_per_step, docker_ms_per_step, three_vs_one, swarm_vs_docker,
 * recovery_ms, node_down_ms.
 */
import { availableParallelism } from 'node:os';
import { type AnyTask, ContainerTask, param, run } from '../src';
import { createLogger } from '../src/public/runtime';
import { DockerExecutor, type Executor, SwarmExecutor } from '../src/public/executors';
import { defaultRunnerImage } from '../src/executors/docker';
import { Cluster } from '../test/helpers/cluster';

const silent = createLogger({ level: 'silent' });
const steps = 10;
const rounds = 5;
let stepImage = defaultRunnerImage;

/** `node -e 0` in the registry's image, chained; `pinned` places every step on the manager. */
class Link extends ContainerTask<{ i: number; group: string; pinned: boolean }> {
  static override params = { i: param.int(), group: param.string(), pinned: param.boolean({ default: false }) };
  override readonly resources = { image: stepImage, network: 'host' as const, ...(this.params.pinned ? { placement: ['node.role==manager'] } : {}) };
  override requires() {
    return this.params.i === 0 ? [] : [new Link({ ...this.params, i: this.params.i - 1 })];
  }
  command() {
    return ['node', '-e', '0'];
  }
}

/** Sleeps 6 s; retried once, at once. */
class Sleeper extends ContainerTask<{ i: number; group: string }> {
  static override params = { i: param.int(), group: param.string() };
  override readonly retries = 1;
  override readonly retryDelayMs = 0;
  override readonly resources = { image: stepImage, network: 'host' as const, cpus: 0.3 };
  command() {
    return ['node', '-e', 'setTimeout(() => {}, 6000)'];
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const progress = (text: string) => process.stderr.write(`swarm-steps --cluster: ${text}\n`);

async function chainMs(executor: Executor, group: string, pinned: boolean): Promise<number> {
  const root: AnyTask = new Link({ i: steps - 1, group, pinned });
  const t = performance.now();
  const summary = await run(root, { executor, logger: silent, workers: 1 });
  if (!summary.ok) throw new Error(`bench run failed: ${JSON.stringify(summary.tasks.filter((x) => x.status !== 'ran'))}`);
  return (performance.now() - t) / steps;
}

/** Loses the last worker while 6 sleepers run; ms from the loss to the last of its steps succeeding, and to the node being marked down. */
async function recovery(cluster: Cluster, executor: SwarmExecutor): Promise<{ recoveryMs: number; downMs: number; onLost: number }> {
  const lost = cluster.workers[cluster.workers.length - 1];
  const lostNode = cluster.nodeId(lost);
  const onLost = new Set<string>();
  const ended = new Map<string, number>();
  let lostAt = 0;
  let markedDown: Promise<number> | undefined;
  const watch = setInterval(() => {
    void cluster.docker().listTasks().then((tasks: { NodeID?: string; Status?: { State?: string }; Spec?: { ContainerSpec?: { Labels?: Record<string, string> } } }[]) => {
      if (lostAt) return;
      for (const t of tasks) if (t.NodeID === lostNode && t.Status?.State === 'running') onLost.add(t.Spec?.ContainerSpec?.Labels?.['dagwright.task-id'] ?? '');
      if (onLost.size > 0) {
        lostAt = performance.now();
        cluster.loseHost(lost);
        markedDown = cluster.waitForNodes('down', [lost]).then(() => performance.now() - lostAt);
      }
    }, () => {});
  }, 200);
  const onEvent = (e: { type: string; record?: { id: string; status: string } }) => {
    if (e.type === 'task:end' && e.record?.status === 'ran') ended.set(e.record.id, performance.now());
  };
  const roots = Array.from({ length: 6 }, (_, i) => new Sleeper({ i, group: 'recovery' }));
  const summary = await run(roots, { executor, logger: silent, workers: 6, onEvent: onEvent as never }).finally(() => clearInterval(watch));
  if (!summary.ok || onLost.size === 0) throw new Error(`recovery run: ok=${summary.ok}, steps on the lost node ${onLost.size}`);
  const downMs = await markedDown!;
  const last = Math.max(...[...onLost].map((id) => ended.get(id) ?? Number.NaN));
  return { recoveryMs: last - lostAt, downMs, onLost: onLost.size };
}

export async function clusterBench(): Promise<void> {
  const cluster = await Cluster.up({ image: defaultRunnerImage, workers: 2, log: progress });
  try {
    stepImage = cluster.imageRef!;
    const docker = cluster.docker();
    const swarm = new SwarmExecutor({ docker, image: stepImage });
    const local = new DockerExecutor({ docker, image: stepImage });
    await swarm.prepare();
    progress('warming up');
    await chainMs(swarm, 'warm-3', false);
    await chainMs(local, 'warm-d', false);
    const times: Record<'three' | 'one' | 'docker', number[]> = { three: [], one: [], docker: [] };
    for (let r = 0; r < rounds; r++) {
      progress(`chain round ${r + 1} of ${rounds}`);
      const order: ('three' | 'one' | 'docker')[] = r % 2 === 0 ? ['docker', 'one', 'three'] : ['three', 'one', 'docker'];
      for (const kind of order) times[kind].push(await chainMs(kind === 'docker' ? local : swarm, `${kind}${r}`, kind === 'one'));
    }
    progress('losing a worker under 6 running steps');
    const rec = await recovery(cluster, swarm);
    await Promise.all([swarm.close(), local.close()]);
    const [three, one, base] = [median(times.three), median(times.one), median(times.docker)];
    const out = process.stdout;
    out.write(`swarm-steps --cluster on ${availableParallelism()} core(s), 3 nodes, ${stepImage}; chain of ${steps} x node -e 0; medians of ${rounds} rounds\n`);
    out.write(`  swarm, 3 nodes     ${round(three)} ms/step   (rounds: ${times.three.map((m) => round(m)).join(', ')})\n`);
    out.write(`  swarm, 1 node      ${round(one)} ms/step   (rounds: ${times.one.map((m) => round(m)).join(', ')})\n`);
    out.write(`  docker (manager)   ${round(base)} ms/step   (rounds: ${times.docker.map((m) => round(m)).join(', ')})\n`);
    out.write(`  3 nodes / 1 node   ${round(three / one, 2)} (target <= 1.25)\n`);
    out.write(`  1 node / docker    ${round(one / base, 2)} (target <= 1.25)\n`);
    out.write(`  worker lost with ${rec.onLost} step(s) on it: node down after ${round(rec.downMs, 0)} ms, last of its steps done elsewhere ${round(rec.recoveryMs, 0)} ms after the loss (target < 30000 + retry delay 0)\n`);
    out.write(
      `${JSON.stringify({
        bench: 'swarm-steps-cluster',
        three_node_ms_per_step: round(three),
        one_node_ms_per_step: round(one),
        docker_ms_per_step: round(base),
        three_vs_one: round(three / one, 3),
        swarm_vs_docker: round(one / base, 3),
        recovery_ms: round(rec.recoveryMs, 0),
        node_down_ms: round(rec.downMs, 0),
      })}\n`,
    );
  } finally {
    await cluster.down();
  }
}
