/**
 * The Swarm executor on a real three-node swarm on this machine
 * (test/helpers/cluster.ts): hosts that share no disk, the step image
 * pulled by digest from a registry on the manager's host, the store on an
 * S3 server on the test bridge. Flows run as child processes with
 * `--executor swarm`, as a user runs them. One cluster for the whole file
 * (its start pushes the ~600 MB baked image once); the test that loses a
 * worker comes last.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ContainerTask, param, run, S3Target } from '../src';
import { createLogger } from '../src/public/runtime';
import { SwarmExecutor, SwarmImagePullError } from '../src/public/executors';
import { Cluster } from './helpers/cluster';
import { describeCluster } from './helpers/cluster-describe';
import { repoRoot, runFlowProcess, startFlow, type FlowResult } from './helpers/flow-process';
import { s3rverCredentials } from './helpers/s3-server';
import { bakedImage, ensureBakedImage, swarmFixture } from './helpers/swarm';

const bucket = 'cluster';
/** s3rver checks the access key id only, so the secret key can be one that must never show in a service's spec. */
const secretKey = `cluster-secret-${process.pid}-never-in-a-spec`;
const summaryOf = (r: FlowResult) => r.logs.find((l) => l.msg === 'run summary') as Record<string, any>;
const runIdOf = (r: FlowResult) => String(r.logs.find((l) => typeof l.runId === 'string')?.runId);

interface Placement {
  taskId: string;
  node: string;
  state: string;
}

describeCluster('the Swarm executor on a three-node swarm with a registry', bakedImage, () => {
  let cluster: Cluster;
  let s3: S3Client;
  const env = () => ({
    DOCKER_HOST: `unix://${cluster.manager.socket}`,
    DAGWRIGHT_SWARM_IMAGE: cluster.imageRef!,
    AWS_ENDPOINT_URL: cluster.s3!.endpoint,
    DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
    AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_REGION: 'us-east-1',
  });
  const flowArgs = (prefix: string, ...more: string[]) => ['--store', `s3://${bucket}/${prefix}`, '--executor', 'swarm', ...more];

  beforeAll(async () => {
    ensureBakedImage();
    cluster = await Cluster.up({ image: bakedImage, s3Buckets: [bucket] });
    s3 = new S3Client({ endpoint: cluster.s3!.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3rverCredentials });
  }, 600_000);

  afterAll(async () => {
    s3?.destroy();
    await cluster?.down();
  }, 120_000);

  async function keysUnder(prefix: string): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
    return (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
  }
  async function json<T>(key: string): Promise<T> {
    const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await body.Body!.transformToString()) as T;
  }

  /** Where each step ran, read from the manager's task list every 150 ms while `until` is pending. */
  async function placements<T>(until: Promise<T>): Promise<{ result: T; seen: Placement[] }> {
    const seen = new Map<string, Placement>();
    let done = false;
    const watching = (async () => {
      while (!done) {
        const tasks = (await cluster.docker().listTasks().catch(() => [])) as { ID: string; NodeID?: string; Status?: { State?: string }; Spec?: { ContainerSpec?: { Labels?: Record<string, string> } } }[];
        for (const t of tasks) {
          const taskId = t.Spec?.ContainerSpec?.Labels?.['dagwright.task-id'];
          const host = t.NodeID ? cluster.hostOfNode(t.NodeID) : undefined;
          // The pull check's probe runs on every node: not a step.
          if (taskId && taskId !== 'pull-check' && host) seen.set(t.ID, { taskId, node: host.name, state: t.Status?.State ?? '' });
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    try {
      return { result: await until, seen: [...seen.values()] };
    } finally {
      done = true;
      await watching;
    }
  }

  it('refuses to start when a node cannot pull a step image, naming the nodes and the image', async () => {
    const missing = `${cluster.registry}/dagwright/no-such-image@sha256:${'0'.repeat(64)}`;
    const executor = new SwarmExecutor({ docker: cluster.docker(), image: missing, pullCheckTimeoutMs: 120_000 });
    const refused = await executor.prepare().then(
      () => undefined,
      (err: unknown) => err,
    );
    await executor.close();
    expect(refused).toBeInstanceOf(SwarmImagePullError);
    const message = (refused as Error).message;
    expect(message).toContain(missing);
    for (const h of cluster.hosts) expect(message).toContain(h.name);
    expect(message).toMatch(/No such image/);

    // The real image by digest: every node pulls it from the registry, and the check passes.
    const t0 = performance.now();
    const ok = new SwarmExecutor({ docker: cluster.docker(), image: cluster.imageRef!, pullCheckTimeoutMs: 300_000 });
    await ok.prepare();
    await ok.close();
    console.info(`pull check with the image by digest: ${Math.round(performance.now() - t0)} ms (every node pulled it)`);
    for (const h of cluster.workers) {
      const images = (await cluster.docker(h).listImages({ digests: true })) as { RepoDigests?: string[] }[];
      expect(images.flatMap((i) => i.RepoDigests ?? [])).toContain(cluster.imageRef);
    }
    expect(await cluster.docker().listServices()).toEqual([]);
  }, 420_000);

  it('fans 12 tasks out over all three nodes, S3 credentials as a Swarm secret; the flow completes and a re-run does nothing', async () => {
    const args = flowArgs('fanout', '--parts', '12', '--workers', '6', '--slow-ms', '1500');
    const specs: string[] = [];
    const flow = runFlowProcess(swarmFixture, args, env());
    const inspecting = (async () => {
      for (let i = 0; i < 600 && specs.length === 0; i++) {
        const services = (await cluster.docker().listServices({ filters: JSON.stringify({ label: ['dagwright.executor=swarm'] }) })) as { ID: string }[];
        for (const s of services) specs.push(JSON.stringify(await cluster.docker().getService(s.ID).inspect().catch(() => ({}))));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const { result, seen } = await placements(flow);
    await inspecting;
    // `docker service inspect` of a running step: the credentials file is a secret, its content nowhere.
    expect(specs.length).toBeGreaterThan(0);
    for (const spec of specs) {
      expect(spec).not.toContain(secretKey);
      expect(spec).toContain('AWS_SHARED_CREDENTIALS_FILE=/run/secrets/dw-aws-');
      expect(spec).toContain('"SecretName":"dw-aws-');
    }
    expect(result.stderr).not.toContain(secretKey);
    expect(await cluster.docker().listSecrets()).toEqual([]); // removed when the flow ended
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(summaryOf(result).counts).toMatchObject({ ran: 14, failed: 0 });
    const parts = seen.filter((p) => p.taskId.startsWith('Part_'));
    expect(new Set(parts.map((p) => p.taskId)).size).toBe(12);
    expect(new Set(parts.map((p) => p.node))).toEqual(new Set(cluster.hosts.map((h) => h.name)));
    expect(await json<{ parts: number; total: number }>('fanout/sum.json')).toEqual({ parts: 12, total: Array.from({ length: 12 }, (_, i) => i * i).reduce((a, b) => a + b) });

    const { result: again, seen: none } = await placements(runFlowProcess(swarmFixture, args, env()));
    expect(again.code, again.stderr.slice(-3000)).toBe(0);
    // The root is found complete, so nothing below it is even checked.
    expect(summaryOf(again).counts).toMatchObject({ ran: 0, failed: 0, complete: 1 });
    expect(none.filter((p) => p.taskId.startsWith('Part_') || p.taskId.startsWith('Sum_'))).toEqual([]);
  }, 300_000);

  it('runs a step constrained by a node label only on the node with that label', async () => {
    const [, labelled] = cluster.hosts;
    await cluster.labelNode(labelled, { 'dagwright-test.zone': 'b' });
    const image = cluster.imageRef!;
    /** Writes the address of the host it ran on, with the AWS SDK inside the image. */
    class WhereAmI extends ContainerTask<{ i: number }> {
      static override params = { i: param.int() };
      override readonly resources = { image, network: 'host' as const, placement: ['node.labels.dagwright-test.zone==b'] };
      override output() {
        return new S3Target(`s3://${bucket}/placed/where-${this.params.i}.txt`);
      }
      command() {
        const script =
          "const {S3Client,PutObjectCommand}=require('/app/node_modules/@aws-sdk/client-s3');" +
          "const a=Object.values(require('os').networkInterfaces()).flat().find(x=>x.family==='IPv4'&&!x.internal).address;" +
          "new S3Client({forcePathStyle:true}).send(new PutObjectCommand({Bucket:process.argv[1],Key:process.argv[2],Body:a})).catch(e=>{console.error(e);process.exit(1)})";
        return ['node', '-e', script, bucket, `placed/where-${this.params.i}.txt`];
      }
    }
    Object.assign(process.env, env());
    const executor = new SwarmExecutor({ docker: cluster.docker(), image });
    await executor.prepare();
    const { result: summary, seen } = await placements(run([0, 1, 2].map((i) => new WhereAmI({ i })), { executor, logger: createLogger({ level: 'silent' }), workers: 3 }));
    await executor.close();
    expect(summary.ok, JSON.stringify(summary.tasks)).toBe(true);
    expect(new Set(seen.map((p) => p.node))).toEqual(new Set([labelled.name]));
    for (const i of [0, 1, 2]) {
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `placed/where-${i}.txt` }));
      expect(await body.Body!.transformToString()).toBe(labelled.address);
    }
  }, 180_000);

  it("a secret parameter reaches a TypeScript step on Swarm as a Swarm secret's file: no service's or container's command line or environment shows it", async () => {
    const token = `tok-swarm-inspect-${process.pid}-7e7e7e`;
    const watchers = cluster.hosts.map((h, i) => inspectCreated(h.socket, i === 0));
    await new Promise((r) => setTimeout(r, 500)); // every `docker events` is listening
    const result = await runFlowProcess('test/fixtures/swarm-secret-flow.ts', ['--store', `s3://${bucket}/secret`, '--executor', 'swarm', '--token', token], env());
    const inspected = (await Promise.all(watchers.map((w) => w.stop()))).flat();
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(await json('secret/echo.json')).toMatchObject({ tokenLength: token.length, argvHasToken: false });
    const services = inspected.filter((x) => x.kind === 'service');
    const steps = services.filter((x) => x.labels['dagwright.task-id']?.startsWith('SecretEcho_'));
    expect(steps.length).toBeGreaterThanOrEqual(1);
    expect(inspected.filter((x) => x.kind === 'container' && x.labels['dagwright.task-id']?.startsWith('SecretEcho_')).length).toBeGreaterThanOrEqual(1);
    for (const x of inspected) expect(x.commandLine, `${x.kind} ${x.id.slice(0, 12)}`).not.toContain(token);
    // Not in the environment either: the step reads it from a Swarm secret's file.
    for (const x of inspected) expect(x.whole, `${x.kind} ${x.id.slice(0, 12)}`).not.toContain(token);
    expect(JSON.stringify(steps.map((x) => x.whole))).toContain('DAGWRIGHT_SECRET_TOKEN_FILE=/run/secrets/dw-param-');
    expect(JSON.stringify(steps.map((x) => x.commandLine))).toContain('--run-task');
    expect(result.stderr).not.toContain(token);
  }, 300_000);

  it("survives the manager's engine restarting mid-run, or stops with a clear error and a re-run completes exactly what is missing", async () => {
    const args = flowArgs('restart', '--parts', '6', '--workers', '6', '--slow-ms', '5000');
    const { child, done } = startFlow(swarmFixture, args, env());
    await waitForRunning(cluster, (p) => p.taskId.startsWith('Part_'), 3);
    await cluster.restartEngine(cluster.manager);
    await cluster.waitForNodes('ready', cluster.hosts);
    const first = await done;
    // Steps the first run left on the workers (their services could not be removed while the manager was away) are
    // removed by its reaper within seconds; only then is what is missing settled.
    for (let i = 0; i < 300; i++) {
      const left = await cluster.docker().listServices({ filters: JSON.stringify({ label: ['dagwright.executor=swarm'] }) });
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const expected = ['parts/part-0.json', 'parts/part-1.json', 'parts/part-2.json', 'parts/part-3.json', 'parts/part-4.json', 'parts/part-5.json', 'report/_SUCCESS', 'report/data.bin', 'report/summary.txt', 'sum.json'];
    const outputs = (await keysUnder('restart')).filter((k) => !k.startsWith('_'));
    console.info(`manager restart: first run exit ${first.code}, pid ${child.pid}; outputs then: ${outputs.length}`);
    if (first.code === 0) {
      expect(outputs).toEqual(expected);
      return;
    }
    expect(first.code).toBe(1);
    const problems = summaryOf(first)?.problems as { status: string; error?: string }[] | undefined;
    const errors = (problems ?? []).filter((p) => p.status === 'failed').map((p) => p.error ?? '');
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).not.toMatch(/^\s*at /m); // a message, not a stack trace
    const missingTasks = 1 + 1 + expected.filter((k) => k.startsWith('parts/') && !outputs.includes(k)).length;
    const rerun = await runFlowProcess(swarmFixture, args.filter((a, i) => a !== '--slow-ms' && args[i - 1] !== '--slow-ms'), env());
    expect(rerun.code, rerun.stderr.slice(-3000)).toBe(0);
    expect(summaryOf(rerun).counts.ran).toBe(outputs.includes('sum.json') ? missingTasks - 1 : missingTasks);
    expect((await keysUnder('restart')).filter((k) => !k.startsWith('_'))).toEqual(expected);
  }, 300_000);

  it('a worker lost mid-run: its steps are retried on other nodes, the run completes, history names the lost node', async () => {
    const lost = cluster.workers[cluster.workers.length - 1];
    const args = flowArgs('lost', '--parts', '12', '--workers', '6', '--slow-ms', '6000');
    const { child, done } = startFlow(swarmFixture, args, env());
    const watched = placements(done);
    const onLost = await waitForRunning(cluster, (p) => p.taskId.startsWith('Part_') && p.node === lost.name, 1);
    const lostAt = performance.now();
    cluster.loseHost(lost);
    const downAfter = await cluster.waitForNodes('down', [lost]);
    const { result, seen } = await watched;
    const finishedAfter = performance.now() - lostAt;
    console.info(`lost ${lost.name} with ${onLost.length} step(s) on it (flow pid ${child.pid}); node down after ${Math.round(downAfter)} ms; run ended ${Math.round(finishedAfter)} ms after the loss`);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(summaryOf(result).counts).toMatchObject({ ran: 14, failed: 0 });
    expect((await keysUnder('lost')).filter((k) => !k.startsWith('_'))).toEqual([
      ...Array.from({ length: 12 }, (_, i) => `parts/part-${i}.json`).sort(),
      'report/_SUCCESS',
      'report/data.bin',
      'report/summary.txt',
      'sum.json',
    ]);
    expect(await json('lost/sum.json')).toEqual({ parts: 12, total: Array.from({ length: 12 }, (_, i) => i * i).reduce((a, b) => a + b) });
    // Every step that was on the lost node ran again, elsewhere.
    const retriedIds = new Set(onLost.map((p) => p.taskId));
    for (const id of retriedIds) {
      expect(seen.some((p) => p.taskId === id && p.node !== lost.name)).toBe(true);
    }
    const record = await json<{ tasks: { id: string; attempts: number; retriedAfter?: string[] }[] }>(`lost/_runs/${runIdOf(result)}.json`);
    const retried = record.tasks.filter((t) => retriedIds.has(t.id));
    expect(retried).toHaveLength(retriedIds.size);
    for (const t of retried) {
      expect(t.attempts).toBe(2);
      expect(t.retriedAfter?.join('\n')).toContain(`Swarm node ${lost.name} was lost`);
    }
  }, 300_000);
});

interface Inspected {
  kind: 'service' | 'container';
  id: string;
  labels: Record<string, string>;
  /** The whole inspect output: spec, environment, mounts. */
  whole: string;
  /** What `docker inspect` / `docker service inspect` show of the command line, as JSON. */
  commandLine: string;
}

/**
 * Inspects every container the engine at `socket` creates until stopped, and with `services` every service too
 * (`docker events`; each inspected at once, before a step can end).
 */
function inspectCreated(socket: string, services: boolean): { stop: () => Promise<Inspected[]> } {
  const docker = ['-H', `unix://${socket}`];
  const filters = ['--filter', 'type=container', ...(services ? ['--filter', 'type=service'] : []), '--filter', 'event=create'];
  const events = spawn('docker', [...docker, 'events', ...filters, '--format', '{{.Type}} {{.Actor.ID}}'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const inspected: Inspected[] = [];
  let pending = '';
  events.stdout!.on('data', (d: Buffer) => {
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop()!;
    for (const [type, id] of lines.filter(Boolean).map((l) => l.split(' '))) {
      const kind = type === 'service' ? 'service' : 'container';
      const out = spawnSync('docker', [...docker, ...(kind === 'service' ? ['service', 'inspect'] : ['inspect']), id], { encoding: 'utf8' });
      if (out.status !== 0) continue; // gone already
      const [x] = JSON.parse(out.stdout) as Record<string, any>[];
      if (kind === 'service') {
        const c = x.Spec.TaskTemplate.ContainerSpec;
        inspected.push({ kind, id, labels: c.Labels ?? {}, commandLine: JSON.stringify([c.Command, c.Args]), whole: out.stdout });
      } else {
        inspected.push({ kind, id, labels: x.Config.Labels ?? {}, commandLine: JSON.stringify([x.Path, x.Args, x.Config.Cmd, x.Config.Entrypoint]), whole: out.stdout });
      }
    }
  });
  return {
    stop: async () => {
      events.kill();
      return inspected;
    },
  };
}

/** Waits until at least `count` steps matching `match` run (state "running"); returns them. */
async function waitForRunning(cluster: Cluster, match: (p: Placement) => boolean, count: number, timeoutMs = 120_000): Promise<Placement[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const tasks = (await cluster.docker().listTasks().catch(() => [])) as { NodeID?: string; Status?: { State?: string }; Spec?: { ContainerSpec?: { Labels?: Record<string, string> } } }[];
    const running = tasks
      .map((t) => ({ taskId: t.Spec?.ContainerSpec?.Labels?.['dagwright.task-id'] ?? '', node: (t.NodeID && cluster.hostOfNode(t.NodeID)?.name) || '', state: t.Status?.State ?? '' }))
      .filter((p) => p.state === 'running' && match(p));
    if (running.length >= count) return running;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`fewer than ${count} matching steps were running within ${timeoutMs / 1000} s`);
}

describeCluster('the cluster harness', bakedImage, () => {
  it('`.ci/swarm-cluster up` removes everything it made on SIGTERM: engines, namespaces, links, mounts, folder', async () => {
    const child = spawn(resolve(repoRoot, '.ci/swarm-cluster'), ['up', '--workers', '1', '--no-image'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    for (let i = 0; i < 600 && !out.includes('Ctrl-C removes the cluster'); i++) await new Promise((r) => setTimeout(r, 100));
    const id = /cluster (\w+): /.exec(out)?.[1];
    expect(id, out).toBeDefined();
    const socket = /DOCKER_HOST=unix:\/\/(\S+)/.exec(out)![1];
    const made = () => ({
      netns: execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`dwc${id}-`),
      links: execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).includes(`dwc${id}`),
      mounts: readFileSync('/proc/self/mountinfo', 'utf8').includes(`dwc-${id}-`),
      folder: existsSync(resolve(socket, '../../..')),
    });
    expect(made()).toEqual({ netns: true, links: true, mounts: true, folder: true });
    child.kill('SIGTERM');
    await exited;
    expect(made()).toEqual({ netns: false, links: false, mounts: false, folder: false });
  }, 180_000);
});
