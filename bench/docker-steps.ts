/**
 * What the Docker executor costs per step, against raw container runs of the
 * same image and command through dockerode (create, start, wait, remove).
 *
 *   npm run bench:docker            (needs .ci/docker-up and containers/build)
 *
 * Prints the figures, then one JSON line: bench, ours_ms_per_step,
 * raw_ms_per_step, ratio, ts_startup_ms, node_startup_ms, fanout8_over_sequential.
 * This file is also the flow entry the TypeScript start-up measurement runs
 * in a container (with --run-task).
 */
import { availableParallelism } from 'node:os';
import { type AnyTask, ContainerTask, param, run, runFlow, Task, type TaskContext } from '../src';
import { createLogger, taskContext } from '../src/public/runtime';
import { DockerExecutor } from '../src/public/executors';
import { createDockerClient, defaultRunnerImage, pingDocker } from '../src/executors/docker';

/** A step that does nothing: what the TypeScript start-up measurement runs. */
class EmptyTask extends Task {
  async run() {}
}

/** `node -e 0` in the runner image; `after` chains them. */
class NodeZero extends ContainerTask<{ i: number; after: number; group: string }> {
  static override params = { i: param.int(), after: param.int({ default: -1 }), group: param.string() };

  override requires() {
    return this.params.after < 0 ? [] : [new NodeZero({ i: this.params.after, after: this.params.after - 1, group: this.params.group })];
  }

  command() {
    return ['node', '-e', '0'];
  }
}

const image = defaultRunnerImage;
const command = ['node', '-e', '0'];
const silent = createLogger({ level: 'silent' });

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const progress = (text: string) => process.stderr.write(`docker-steps: ${text}\n`);

async function main(): Promise<void> {
  const docker = createDockerClient();
  await pingDocker(docker, 2000);
  await docker.getImage(image).inspect().catch(() => {
    throw new Error(`${image} is missing: build it with containers/build (--offline without a registry)`);
  });
  const executor = new DockerExecutor({ docker, invocation: { entry: __filename, args: [] } });
  const cores = availableParallelism();

  /** One raw container run, as a minimal client would do it. */
  const rawRun = async () => {
    const c = await docker.createContainer({ Image: image, Cmd: command, HostConfig: { NetworkMode: 'none' } });
    try {
      await c.start();
      const { StatusCode } = (await c.wait()) as { StatusCode: number };
      if (StatusCode !== 0) throw new Error(`raw run exited ${StatusCode}`);
    } finally {
      await c.remove({ force: true });
    }
  };
  const timed = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  const chain = (group: string) => new NodeZero({ i: 9, after: 8, group });
  const fanOut = (group: string) => Array.from({ length: 8 }, (_, i) => new NodeZero({ i, after: -1, group }));
  const ours = async (roots: AnyTask | AnyTask[], workers: number) => {
    const summary = await run(roots, { executor, logger: silent, workers });
    if (!summary.ok) throw new Error(`bench run failed: ${JSON.stringify(summary.tasks.filter((t) => t.status !== 'ran'))}`);
  };

  progress('warming up');
  // Warm up: the engine's caches, the project's compiled TypeScript, this process's code paths.
  await executor.prepare();
  await rawRun();
  await ours(new NodeZero({ i: 0, after: -1, group: 'warm' }), 1);

  // Chains of 10, alternating raw and ours (and which goes first) so that load from elsewhere hits both alike.
  const rounds = 5;
  const rawMs: number[] = [];
  const oursMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    progress(`chain round ${r + 1} of ${rounds}`);
    const rawChain = async () => rawMs.push((await timed(async () => { for (let i = 0; i < 10; i++) await rawRun(); })) / 10);
    const ourChain = async () => oursMs.push((await timed(() => ours(chain(`chain${r}`), 1))) / 10);
    if (r % 2 === 0) await rawChain().then(ourChain);
    else await ourChain().then(rawChain);
  }
  const raw = median(rawMs);
  const our = median(oursMs);

  // Fan-out of 8: all cores at work against the same 8 one at a time.
  const seqMs: number[] = [];
  const parMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    progress(`fan-out round ${r + 1} of ${rounds}`);
    seqMs.push(await timed(() => ours(fanOut(`seq${r}`), 1)));
    parMs.push(await timed(() => ours(fanOut(`par${r}`), 8)));
  }
  const sequential8 = median(seqMs);
  const parallel8 = median(parMs);

  // Start-up: a TypeScript task's container (the flow entry loading the project) beside `node -e 0`, through the executor.
  const ctx = (id: string): TaskContext => taskContext({ runId: 'bench', taskId: id, attempt: 1, signal: new AbortController().signal, logger: silent });
  const tsMs: number[] = [];
  const nodeMs: number[] = [];
  progress('start-up');
  for (let r = 0; r < 5; r++) {
    const empty = new EmptyTask();
    const zero = new NodeZero({ i: r, after: -1, group: 'startup' });
    tsMs.push(await timed(() => executor.execute(empty, ctx(empty.id))));
    nodeMs.push(await timed(() => executor.execute(zero, ctx(zero.id))));
  }
  await executor.close();
  const tsStartup = median(tsMs);
  const nodeStartup = median(nodeMs);

  const out = process.stdout;
  out.write(`docker-steps on ${cores} core(s), image ${image}, command ${command.join(' ')}; medians of ${rounds} rounds\n`);
  out.write(`  chain of 10   ours ${round(our)} ms/step   raw dockerode ${round(raw)} ms/step   ratio ${round(our / raw, 2)} (target <= 1.05)\n`);
  out.write(`                (rounds: ours ${oursMs.map((m) => round(m)).join(', ')}; raw ${rawMs.map((m) => round(m)).join(', ')})\n`);
  out.write(`  fan-out of 8  ${round(parallel8)} ms with 8 workers vs ${round(sequential8)} ms one at a time: ${round(parallel8 / sequential8, 2)} (target < 0.7)\n`);
  out.write(`  start-up      TypeScript task ${round(tsStartup)} ms vs node -e 0 ${round(nodeStartup)} ms: +${round(tsStartup - nodeStartup)} ms (target <= 300)\n`);
  out.write(
    `${JSON.stringify({
      bench: 'docker-steps',
      ours_ms_per_step: round(our),
      raw_ms_per_step: round(raw),
      ratio: round(our / raw, 3),
      ts_startup_ms: round(tsStartup),
      node_startup_ms: round(nodeStartup),
      fanout8_over_sequential: round(parallel8 / sequential8, 3),
    })}\n`,
  );
}

if (process.argv.includes('--run-task')) {
  // Inside a container: the flow whose only task is EmptyTask.
  void runFlow({ name: 'bench-empty', params: {}, roots: () => new EmptyTask() });
} else if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
