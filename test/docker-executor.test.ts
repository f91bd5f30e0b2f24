import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ContainerTask, LocalTarget, param, run, type RunOptions } from '../src';
import { DockerExecutor, type DockerExecutorOptions } from '../src/public/executors';
import { type SchedulerEvent } from '../src/public/runtime';
import { createDockerClient, Labels as DockerLabels } from '../src/executors/docker';
import { describeDocker } from './helpers/docker';
import { captureLogger } from './helpers/log-capture';

const user = '1000:1000';
let store: string;

/** A step in the runner image: `node -e <script> <output path>`. */
class NodeStep extends ContainerTask<{ name: string; store: string; script: string }> {
  static override params = { name: param.string(), store: param.string(), script: param.string() };
  declare retries: number;
  declare retryDelayMs: number;
  declare timeoutMs: number | undefined;
  declare resources: NonNullable<ContainerTask['resources']>;

  constructor(p: { name: string; store: string; script: string }, settings: Partial<Pick<NodeStep, 'retries' | 'timeoutMs' | 'resources'>> = {}) {
    super(p);
    this.retries = settings.retries ?? 0;
    this.retryDelayMs = 10;
    this.timeoutMs = settings.timeoutMs;
    this.resources = settings.resources ?? {};
  }

  override output() {
    return new LocalTarget(join(this.params.store, `${this.params.name}.txt`));
  }

  command() {
    return ['node', '-e', this.params.script, this.output().path];
  }
}

const docker = createDockerClient();

async function leftovers(runId: string) {
  return docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${DockerLabels.runId}=${runId}`] }) });
}

async function runSteps(tasks: NodeStep[], options: Partial<RunOptions> = {}, executorOptions: DockerExecutorOptions = {}) {
  const { logger, lines } = captureLogger('debug');
  const executor = new DockerExecutor({ docker, store, user, ...executorOptions });
  const events: SchedulerEvent[] = [];
  const runId = `test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    const summary = await run(tasks, { executor, logger, runId, workers: 2, onEvent: (e) => events.push(e), ...options });
    return { summary, lines, events, runId, record: (t: NodeStep) => summary.tasks.find((r) => r.id === t.id)! };
  } finally {
    await executor.close();
  }
}

describeDocker('DockerExecutor with a real engine', () => {
  beforeAll(async () => {
    await docker.getImage('dagwright/runner:latest').inspect(); // fails with a clear 404 when the image was not built
  });

  beforeEach(async () => {
    store = await mkdtemp(join(tmpdir(), 'dagwright-docker-'));
    await chown(store, 1000, 1000);
  });

  afterAll(async () => {
    const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${DockerLabels.ownerPid}=${process.pid}`] }) });
    expect(left).toEqual([]);
  });

  it('runs a ContainerTask whose command writes its output, as the given uid:gid', async () => {
    const step = new NodeStep({ name: 'hello', store, script: "require('fs').writeFileSync(process.argv[1], 'hello from ' + process.getuid() + '\\n')" });
    const { summary, runId } = await runSteps([step]);
    expect(summary.ok).toBe(true);
    expect(await readFile(step.output().path, 'utf8')).toBe('hello from 1000\n');
    const info = await stat(step.output().path);
    expect([info.uid, info.gid]).toEqual([1000, 1000]);
    expect(await leftovers(runId)).toEqual([]);
  });

  it('retries a failing container and says why each attempt failed', async () => {
    const script =
      "const a = process.env.DAGWRIGHT_ATTEMPT; console.log('attempt ' + a); " +
      "if (a !== '3') { console.error('attempt ' + a + ' failing'); process.exit(3); } require('fs').writeFileSync(process.argv[1], 'ok')";
    const step = new NodeStep({ name: 'flaky', store, script }, { retries: 2 });
    const { summary, events, record } = await runSteps([step]);
    expect(summary.ok).toBe(true);
    expect(record(step).attempts).toBe(3);
    const retries = events.filter((e) => e.type === 'task:retry');
    expect(retries).toHaveLength(2);
    // stdout and stderr are two streams: the engine keeps no order between a line of each.
    const error = (retries[0] as { error: string }).error;
    expect(error).toContain('container exited with code 3; last 2 log line(s):\n');
    expect(error.split('\n').slice(1).sort()).toEqual(['  attempt 1', '  attempt 1 failing']);
  });

  it('fails with the exit code and the last log lines when retries run out', async () => {
    const script = "for (let i = 1; i <= 30; i++) console.log('line ' + i); process.exit(7)";
    const step = new NodeStep({ name: 'bad', store, script });
    const { record } = await runSteps([step]);
    expect(record(step)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(record(step).error).toContain('container exited with code 7; last 20 log line(s)');
    expect(record(step).error).toContain('line 30');
    expect(record(step).error).not.toContain('line 10\n');
  });

  it('kills the container when the attempt times out', async () => {
    const step = new NodeStep({ name: 'slow', store, script: 'setTimeout(() => {}, 60000)' }, { timeoutMs: 1500 });
    const started = Date.now();
    const { record, runId } = await runSteps([step]);
    expect(record(step).status).toBe('failed');
    expect(record(step).error).toMatch(/timed out after 1500 ms/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await leftovers(runId)).toEqual([]);
  });

  it('reports an out-of-memory kill and does not retry it', async () => {
    const script = 'const keep = []; for (;;) keep.push(Buffer.alloc(4 << 20, 1));';
    const step = new NodeStep({ name: 'hog', store, script }, { retries: 2, resources: { memoryMb: 64 } });
    const { record } = await runSteps([step]);
    expect(record(step)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(record(step).error).toMatch(/killed for running out of memory \(limit 64 MB/);
  });

  it('takes a SIGKILL under a memory limit for running out of memory when the engine has not flagged it', async () => {
    // The kernel can kill a process inside the container without the engine flagging the container OOMKilled;
    // from outside, that looks like any SIGKILL, such as this one (PID 1 cannot be SIGKILLed from inside).
    const step = new NodeStep({ name: 'killed', store, script: "console.log('up'); setTimeout(() => {}, 60000)" }, { retries: 2, resources: { memoryMb: 256 } });
    const pending = runSteps([step]);
    let killed = false;
    for (let i = 0; i < 200 && !killed; i++) {
      const [running] = await docker.listContainers({ filters: JSON.stringify({ label: [`${DockerLabels.ownerPid}=${process.pid}`] }) });
      if (running) killed = await docker.getContainer(running.Id).kill({ signal: 'SIGKILL' }).then(() => true, () => false);
      else await new Promise((r) => setTimeout(r, 50));
    }
    const { record } = await pending;
    expect(killed).toBe(true);
    expect(record(step)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(record(step).error).toMatch(/killed \(SIGKILL, exit 137\) under a memory limit of 256 MB, most likely for running out of memory/);
  });

  it('fails a step whose image is missing once, naming the command that builds images', async () => {
    const step = new NodeStep({ name: 'noimage', store, script: '0' }, { retries: 2, resources: { image: 'dagwright/no-such-image:test' } });
    const { record } = await runSteps([step]);
    expect(record(step)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(record(step).error).toMatch(/image dagwright\/no-such-image:test is not on the Docker engine\. Build it with `containers\/build`/);
  });

  it('re-logs the step output at its level and never logs secret values', async () => {
    const script =
      "console.error(JSON.stringify({ level: 40, time: 1, msg: 'from inside', rows: 2 })); " +
      "console.log('token is ' + process.env.MY_API_TOKEN); require('fs').writeFileSync(process.argv[1], 'x')";
    const step = new NodeStep({ name: 'logs', store, script }, { resources: { env: { MY_API_TOKEN: 'supersecretvalue42' } } });
    const { summary, lines } = await runSteps([step]);
    expect(summary.ok).toBe(true);
    expect(lines.find((l) => l.msg === 'from inside')).toMatchObject({ level: 40, rows: 2, taskId: step.id });
    expect(lines.find((l) => l.msg === 'token is [redacted]')).toMatchObject({ level: 30, stream: 'stdout' });
    expect(JSON.stringify(lines)).not.toContain('supersecretvalue42');
  });

  it('publishes a ContainerTask output only when the attempt succeeded, however the command writes', async () => {
    const partial = new NodeStep({ name: 'partial', store, script: "require('fs').writeFileSync(process.argv[1], 'half'); process.exit(1)" });
    // The command builds the output path itself, so it is not the staged one: the store is read-only to it.
    const sideways = new NodeStep({
      name: 'sideways',
      store,
      script: "require('fs').writeFileSync(process.argv[2] + '/' + process.argv[3], 'x')",
    });
    sideways.command = () => ['node', '-e', sideways.params.script, sideways.output().path, dirname(sideways.output().path), basename(sideways.output().path)];
    const { record } = await runSteps([partial, sideways]);
    expect(record(partial)).toMatchObject({ status: 'failed' });
    expect(record(sideways)).toMatchObject({ status: 'failed' });
    expect(record(sideways).error).toMatch(/EROFS|read-only file system/);
    expect(existsSync(partial.output().path)).toBe(false);
    expect(existsSync(sideways.output().path)).toBe(false);
    expect((await readdir(store)).filter((f) => f.includes('dagwright-tmp'))).toEqual([]); // staging folders removed
  });

  it('mounts the project read-only: a step cannot change the source or node_modules', async () => {
    const project = resolve(__dirname, '..');
    const probe = join(project, 'node_modules', '.dagwright-ro-probe');
    const step = new NodeStep({ name: 'tamper', store, script: `require('fs').writeFileSync(${JSON.stringify(probe)}, 'x')` });
    const { record } = await runSteps([step]);
    expect(record(step).status).toBe('failed');
    expect(record(step).error).toMatch(/EROFS|read-only file system/);
    expect(existsSync(probe)).toBe(false);
  });

  it('stops running containers when the run is cancelled', async () => {
    const controller = new AbortController();
    const steps = [1, 2].map((i) => new NodeStep({ name: `long${i}`, store, script: "console.log('up'); setTimeout(() => {}, 60000)" }));
    const pending = runSteps(steps, { signal: controller.signal });
    // Cancel once a container has started (its first line arrives as a log record).
    for (let i = 0; i < 200; i++) {
      const running = await docker.listContainers({ filters: JSON.stringify({ label: [`${DockerLabels.ownerPid}=${process.pid}`] }) });
      if (running.length === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelledAt = Date.now();
    controller.abort();
    const { summary, runId } = await pending;
    expect(Date.now() - cancelledAt).toBeLessThan(5000);
    expect(summary.cancelled).toBe(true);
    expect(summary.tasks.map((t) => t.status)).toEqual(['cancelled', 'cancelled']);
    expect(await leftovers(runId)).toEqual([]);
  });
});
