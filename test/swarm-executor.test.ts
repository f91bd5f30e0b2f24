/**
 * The Swarm executor against a real engine: a one-node swarm on loopback
 * (made here unless the engine already is a manager, and left again), the
 * suite's s3rver on 127.0.0.1 (steps reach it over the `host` network), and
 * `dagwright/runner-baked:latest` (built here when missing or without the
 * fixture; CI builds it first).
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ContainerTask, run, S3Target } from '../src';
import { createLogger } from '../src/public/runtime';
import { DockerExecutor, SwarmExecutor } from '../src/public/executors';
import { TaskTimeoutError } from '../src/public/errors';
import { createDockerClient, Labels as DockerLabels } from '../src/executors/docker';
import { defaultPassEnv } from '../src/executors/docker';
import { describeDocker } from './helpers/docker';
import { captureLogger } from './helpers/log-capture';
import { childrenOf, runFlowProcess, startFlow, type FlowResult } from './helpers/flow-process';
import { freshBucket, s3Endpoint, s3TestClient } from './helpers/s3';
import { s3rverCredentials } from './helpers/s3-server';
import { ensureBakedImage, joinOrCreateSwarm, leaveSwarm, repoRoot, swarmFixture, type SwarmHandle } from './helpers/swarm';
import { Report } from './fixtures/swarm-flow';

const summaryOf = (result: FlowResult) => result.logs.find((l) => l.msg === 'run summary') as Record<string, any>;
/** s3rver checks the access key id only, so the secret can be one that must never show up in a log. */
const secret = `swarm-secret-${process.pid}-do-not-log`;

describeDocker('the Swarm executor on a one-node swarm', () => {
  const docker = createDockerClient();
  let swarm: SwarmHandle | undefined;
  let client: S3Client;
  let bucket: string;
  const s3env = () => ({
    AWS_ENDPOINT_URL: s3Endpoint(),
    DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
    AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_REGION: 'us-east-1',
  });
  const servicesWith = async (labels: Record<string, string>) =>
    docker.listServices({ filters: JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }) });

  beforeAll(async () => {
    // Tasks checked in this process (complete(), run()) use the shared S3 client, made from these on first use.
    Object.assign(process.env, s3env());
    client = s3TestClient();
    bucket = await freshBucket(client, 'swarm');
    ensureBakedImage();
    swarm = await joinOrCreateSwarm(docker);
  }, 900_000);

  afterAll(async () => {
    await leaveSwarm(docker, swarm);
  }, 60_000);

  async function objectsUnder(prefix: string): Promise<Record<string, string>> {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
    const out: Record<string, string> = {};
    for (const { Key } of listed.Contents ?? []) {
      const rel = Key!.slice(prefix.length + 1);
      if (rel.startsWith('_') || rel.startsWith('.')) continue;
      const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
      out[rel] = Buffer.from(await body.Body!.transformToByteArray()).toString('base64');
    }
    return out;
  }

  it('runs a flow of TypeScript tasks to the same S3 objects as the Docker executor', async () => {
    const store = (name: string) => `s3://${bucket}/${name}`;
    const logger = createLogger({ level: 'silent' });
    const entry = resolve(repoRoot, swarmFixture);
    const dockerRun = run(new Report({ store: store('docker'), parts: 3, failAt: '', flaky: '', slowMs: 0, timeoutMs: 0 }), {
      logger,
      workers: 2,
      executor: new DockerExecutor({
        invocation: { entry, args: ['--parts', '3', '--store', store('docker'), '--log-level', 'info'] },
        store: store('docker'),
        passEnv: [...defaultPassEnv, 'DAGWRIGHT_S3_*'],
      }),
    });
    const swarmRun = runFlowProcess(swarmFixture, ['--parts', '3', '--store', store('swarm'), '--executor', 'swarm', '--workers', '2'], s3env());
    const [inDocker, inSwarm] = await Promise.all([dockerRun, swarmRun]);
    expect(inDocker.ok, JSON.stringify(inDocker.tasks)).toBe(true);
    expect(inSwarm.code, inSwarm.stderr.slice(-3000)).toBe(0);
    const summary = summaryOf(inSwarm);
    expect(summary.counts).toMatchObject({ ran: 5, failed: 0 });
    expect(summary.ran.every((r: { executor: string }) => r.executor === 'swarm')).toBe(true);
    // The steps' own log lines come back through the task's logger, each once.
    expect(inSwarm.logs.filter((l) => l.msg === 'part started' && typeof l.taskId === 'string')).toHaveLength(3);
    expect(inSwarm.logs.filter((l) => l.msg === 'summed' && l.total === 0 + 1 + 4)).toHaveLength(1);
    expect(inSwarm.stderr).not.toContain(secret);
    const expected = await objectsUnder('docker');
    expect(Object.keys(expected).sort()).toEqual(['parts/part-0.json', 'parts/part-1.json', 'parts/part-2.json', 'report/_SUCCESS', 'report/data.bin', 'report/summary.txt', 'sum.json']);
    expect(await objectsUnder('swarm')).toEqual(expected);
    expect(await servicesWith({ [DockerLabels.runId]: String(inSwarm.logs.find((l) => typeof l.runId === 'string')?.runId) })).toEqual([]);
  }, 150_000); // two flows side by side, one of them starting a service per step: minutes on a loaded 2-core machine

  it('retries a failed step in a new service and reports its exit code and last log lines', async () => {
    const result = await runFlowProcess(
      swarmFixture,
      ['--parts', '2', '--store', `s3://${bucket}/failing`, '--executor', 'swarm', '--fail-at', 'part-1', '--flaky', 'part-0', '--workers', '2'],
      s3env(),
    );
    expect(result.code, result.stderr.slice(-3000)).toBe(1);
    const summary = summaryOf(result);
    expect(summary.counts).toMatchObject({ ran: 1, failed: 1, blocked: 2 });
    const failed = summary.problems.find((p: { status: string }) => p.status === 'failed');
    expect(failed.attempts).toBe(2);
    expect(failed.error).toMatch(/service task exited with code 1/);
    expect(failed.error).toContain('part-1 failing on purpose');
    const flaky = summary.ran[0];
    expect(flaky.attempts).toBe(2);
    expect(result.logs.filter((l) => l.msg === 'attempt failed; retrying')).toHaveLength(2);
    expect(await servicesWith({ [DockerLabels.runId]: String(result.logs.find((l) => typeof l.runId === 'string')?.runId) })).toEqual([]);
  });

  it('removes the service of a step that passes its timeout, and keeps secrets out of the logs', async () => {
    class Sleeper extends ContainerTask {
      override readonly timeoutMs = 2500;
      override readonly resources = { network: 'host' as const };
      override output() {
        return new S3Target(`s3://${bucket}/timeout/never.txt`);
      }
      command() {
        return ['node', '-e', 'console.log("secret is " + process.env.AWS_SECRET_ACCESS_KEY); setTimeout(() => {}, 120000)'];
      }
    }
    const { logger, lines } = captureLogger('debug');
    const runId = `timeout-${process.pid}-${Date.now()}`;
    let seen = 0;
    const watcher = setInterval(() => {
      void servicesWith({ [DockerLabels.runId]: runId }).then((s) => (seen = Math.max(seen, s.length)));
    }, 200);
    const started = Date.now();
    const summary = await run(new Sleeper(), { logger, runId, executor: new SwarmExecutor() }).finally(() => clearInterval(watcher));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(seen).toBe(1);
    const record = summary.tasks.find((t) => t.status === 'failed')!;
    expect(record.error).toBe(new TaskTimeoutError(new Sleeper().id, 2500).message);
    expect(await servicesWith({ [DockerLabels.runId]: runId })).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it('runs a step in an image built here by its ID, so that Swarm asks no registry for it', async () => {
    class Pause extends ContainerTask {
      override readonly resources = { network: 'host' as const };
      command() {
        return ['node', '-e', 'setTimeout(() => {}, 3000)'];
      }
    }
    const runId = `pinned-${process.pid}-${Date.now()}`;
    const images = new Set<string>();
    const watcher = setInterval(() => {
      void servicesWith({ [DockerLabels.runId]: runId }).then((services) => {
        for (const s of services) images.add(String(s.Spec?.TaskTemplate && (s.Spec.TaskTemplate as any).ContainerSpec?.Image));
      });
    }, 200);
    const summary = await run(new Pause(), { logger: createLogger({ level: 'silent' }), runId, executor: new SwarmExecutor() }).finally(() => clearInterval(watcher));
    expect(summary.ok).toBe(true);
    // An image with no registry digest is one no registry holds: a pull by its tag could only fail or fetch another image.
    const local = await docker.getImage('dagwright/runner-baked:latest').inspect();
    expect(local.RepoDigests ?? []).toEqual([]);
    expect([...images]).toEqual([local.Id]);
  });

  it('a step asking for a network the swarm does not have fails once, saying which, with no service left', async () => {
    class Offline extends ContainerTask {
      override readonly retries = 2;
      override readonly resources = { network: 'none' as const };
      override output() {
        return new S3Target(`s3://${bucket}/offline/never.txt`);
      }
      command() {
        return ['node', '-e', '0'];
      }
    }
    const runId = `nonet-${process.pid}-${Date.now()}`;
    const summary = await run(new Offline(), { logger: createLogger({ level: 'silent' }), runId, executor: new SwarmExecutor() });
    const record = summary.tasks.find((t) => t.status === 'failed')!;
    expect(record.attempts).toBe(1);
    if (record.error?.includes('cannot attach a service')) expect(record.error).toContain('"none" network');
    else expect.fail(`expected the network to be named, got: ${record.error}`);
    expect(await servicesWith({ [DockerLabels.runId]: runId })).toEqual([]);
  });

  it('refuses a flow with local targets before anything runs (exit 2), and a local store', async () => {
    const before = (await servicesWith({ [DockerLabels.managed]: 'true' })).length;
    const dir = await mkdtemp(join(tmpdir(), 'dagwright-swarm-refused-'));
    const refused = await runFlowProcess('test/fixtures/steps-flow.ts', ['--store', `s3://${bucket}/local`, '--executor', 'swarm'], s3env());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('write local targets, which Swarm nodes share no disk to hold');
    expect(refused.stderr).toContain('--store s3://bucket/prefix');
    expect(refused.logs.some((l) => l.msg === 'task started')).toBe(false);

    const localStore = await runFlowProcess(swarmFixture, ['--store', dir, '--executor', 'swarm'], s3env());
    expect(localStore.code).toBe(2);
    expect(localStore.stderr).toContain(`--store ${dir} is a local folder`);
    expect(await readdir(dir)).toEqual([]); // a usage error writes nothing: no outputs, no locks, no run record
    expect((await servicesWith({ [DockerLabels.managed]: 'true' })).length).toBe(before);
  });

  it('SIGTERM to the flow removes its services and leaves none behind', async () => {
    const { child, done } = startFlow(
      swarmFixture,
      ['--parts', '2', '--store', `s3://${bucket}/sigterm`, '--executor', 'swarm', '--slow-ms', '60000', '--workers', '2'],
      s3env(),
    );
    const mine = { [DockerLabels.ownerPid]: String(child.pid) };
    let running = 0;
    for (let i = 0; i < 600 && running < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      running = (await servicesWith(mine)).length;
    }
    expect(running).toBe(2);
    const sentAt = Date.now();
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(143);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(await servicesWith(mine)).toEqual([]);
  });

  it('SIGKILL to the flow: its reaper removes the services within seconds; without the reaper the next run does before it plans', async () => {
    const args = ['--parts', '2', '--store', `s3://${bucket}/sigkill`, '--executor', 'swarm', '--workers', '2'];
    const killDuringSteps = async (alsoTheReaper: boolean) => {
      const { child, done } = startFlow(swarmFixture, [...args, '--slow-ms', '60000'], s3env());
      const mine = { [DockerLabels.ownerPid]: String(child.pid) };
      let running = 0;
      for (let i = 0; i < 600 && running < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        running = (await servicesWith(mine)).length;
      }
      expect(running).toBe(2);
      if (alsoTheReaper) for (const pid of childrenOf(child.pid!)) process.kill(pid, 'SIGKILL');
      child.kill('SIGKILL');
      await done;
      return mine;
    };

    const reaped = await killDuringSteps(false);
    const killedAt = Date.now();
    for (let i = 0; i < 100 && (await servicesWith(reaped)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await servicesWith(reaped)).toEqual([]);
    expect(Date.now() - killedAt).toBeLessThan(10_000);

    const orphaned = await killDuringSteps(true);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await servicesWith(orphaned)).toHaveLength(2);
    const rerun = await runFlowProcess(swarmFixture, args, s3env());
    expect(rerun.code, rerun.stderr.slice(-3000)).toBe(0);
    expect(rerun.logs.some((l) => String(l.msg).includes('removed 2 service(s) that a killed flow left running'))).toBe(true);
    expect(await servicesWith(orphaned)).toEqual([]);
    expect(Object.keys(await objectsUnder('sigkill')).sort()).toEqual(['parts/part-0.json', 'parts/part-1.json', 'report/_SUCCESS', 'report/data.bin', 'report/summary.txt', 'sum.json']);
  });

  it('leaves no step containers behind once their services are gone', async () => {
    const filters = JSON.stringify({ label: ['dagwright.executor=swarm'] });
    let left = await docker.listContainers({ all: true, filters });
    // The engine removes a removed service's containers a few seconds later, on its own.
    for (let i = 0; i < 60 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      left = await docker.listContainers({ all: true, filters });
    }
    expect(left.map((c) => `${c.Names[0]} ${c.State}`)).toEqual([]);
  });
});
