/**
 * The Swarm model deployment on a real three-node swarm on this machine
 * (test/helpers/cluster.ts): one replica on every node (a global service on
 * the host network of each host), the server image pulled by digest from the
 * registry on the manager's host, the registry's models on the S3 server on
 * the test bridge, the token and the S3 credentials as Swarm secrets. A
 * client on the manager's host (its own process in the manager's network
 * namespace) sends requests to every replica over kept-alive connections
 * through a rolling swap to a new version and through the loss of a worker.
 * The loss comes last: the cluster is not repaired.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TOKEN_ENV } from '../tasks/serving/server-options';
import { imageId, SERVER_IMAGE } from '../tasks/serving/deploy/server-deployment-spec';
import { ensureSwarmServer, type SwarmServerSpec, swarmServerCurrent, swarmServiceName } from '../tasks/serving/deploy/swarm-deployment';
import { testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { Cluster } from './helpers/cluster';
import { describeCluster } from './helpers/cluster-describe';
import { type Answer, clientOnHost } from './helpers/cluster-serving-client';
import { s3rverCredentials } from './helpers/s3-server';
import { captureLogger } from './helpers/log-capture';

const bucket = 'serving';
const store = `s3://${bucket}/store`;
/** Each host has its own network stack: any port is free there. */
const port = 18080;
const token = `cluster-serve-${process.pid}-never-in-a-spec`;
/** s3rver checks the access key id only, so the secret key can be one that must never show in a spec. */
const secretKey = `cluster-serve-key-${process.pid}-never-in-a-spec`;

/** The answers of each replica, by its address. */
function byReplica(answers: readonly Answer[]): Map<string, Answer[]> {
  const map = new Map<string, Answer[]>();
  for (const a of answers) map.set(a.replica, [...(map.get(a.replica) ?? []), a]);
  return map;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What Swarm did, for a failed rollout: every task of the service with its node, states and error, and the deployment's warnings. */
async function printTaskHistory(cluster: Cluster, warnings: readonly Record<string, any>[]): Promise<void> {
  const tasks = (await cluster.docker().listTasks({ filters: JSON.stringify({ service: [swarmServiceName({ store, model: 'mnist-digits', alias: '', port })] }) })) as {
    NodeID?: string;
    CreatedAt?: string;
    UpdatedAt?: string;
    DesiredState?: string;
    Status?: { State?: string; Err?: string; Timestamp?: string };
    Spec?: { ContainerSpec?: { Args?: string[] } };
  }[];
  const rows = tasks
    .sort((a, b) => String(a.CreatedAt).localeCompare(String(b.CreatedAt)))
    .map((t) => {
      const args = t.Spec?.ContainerSpec?.Args ?? [];
      return `${t.CreatedAt} ${cluster.hostOfNode(t.NodeID ?? '')?.name} alias=${args[args.indexOf('--alias') + 1]} desired=${t.DesiredState} state=${t.Status?.State}@${t.Status?.Timestamp} ${t.Status?.Err ?? ''}`;
    });
  console.info(`tasks:\n  ${rows.join('\n  ')}\nwarnings: ${warnings.map((l) => l.msg).join(' | ') || 'none'}`);
}

describeCluster('the model server on a three-node swarm: a replica on every node', SERVER_IMAGE, () => {
  let cluster: Cluster;
  let work: string;
  let bodyFile: string;
  const savedEnv = { ...process.env };
  const spec = (more: Partial<SwarmServerSpec> = {}): SwarmServerSpec => ({
    store,
    model: 'mnist-digits',
    alias: 'champion',
    host: '0.0.0.0',
    port,
    image: cluster.imageRef!,
    everyNode: true,
    token,
    ...more,
  });
  const urls = () => cluster.hosts.map((h) => `http://${h.address}:${port}/v2/models/mnist-digits/infer`);
  const service = async () => (await cluster.docker().getService(swarmServiceName(spec())).inspect()) as Docker.Service;
  /** The model version each host's replica answers ready with, by host name (undefined: none). */
  const readyVersions = async (): Promise<Record<string, string | undefined>> => {
    const entries = await Promise.all(
      cluster.hosts.map(async (h) => {
        const reply = await fetch(`http://${h.address}:${port}/v2/models/mnist-digits`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(3000) }).then(
          async (r) => (r.ok ? ((await r.json()) as { versions?: string[] }).versions?.[0] : undefined),
          () => undefined,
        );
        return [h.name, reply] as const;
      }),
    );
    return Object.fromEntries(entries);
  };

  beforeAll(async () => {
    const docker = new (await import('dockerode')).default();
    await imageId(docker, SERVER_IMAGE); // a DeploymentError saying how to build it when missing
    cluster = await Cluster.up({ image: SERVER_IMAGE, s3Buckets: [bucket] });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: cluster.s3!.endpoint,
      DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
      AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretKey,
      AWS_REGION: 'us-east-1',
    });
    delete process.env[TOKEN_ENV];
    await registerSeededModel(store, 'mnist-digits', 41, 'champion');
    await registerSeededModel(store, 'mnist-digits', 42, 'canary');
    work = mkdtempSync(join(tmpdir(), 'cluster-serving-'));
    bodyFile = join(work, 'request.json');
    writeFileSync(bodyFile, JSON.stringify(uint8Request(testImages(1, 5))));
  }, 900_000);

  afterAll(async () => {
    process.env = savedEnv;
    if (work) rmSync(work, { recursive: true, force: true });
    await cluster?.down();
  }, 180_000);

  it('runs one replica on every node, each pulled by digest and ready; the token and S3 keys are secrets no inspect shows', async () => {
    const { logger, lines } = captureLogger();
    const deployed = await ensureSwarmServer(cluster.docker(), spec(), logger);
    expect(deployed.changed).toBe(true);
    const running = (await cluster.docker().listTasks({ filters: JSON.stringify({ service: [deployed.serviceId], 'desired-state': ['running'] }) })) as { NodeID: string }[];
    expect(new Set(running.map((t) => cluster.hostOfNode(t.NodeID)?.name))).toEqual(new Set(cluster.hosts.map((h) => h.name)));
    await until('every replica answers ready at version 1', async () => Object.values(await readyVersions()).every((v) => v === '1'));
    for (const url of urls()) {
      expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(uint8Request(testImages(1, 1))) })).status).toBe(401);
    }

    // What anyone who may inspect services or containers sees: the secrets' names and paths, never their values.
    const inspected = execFileSync('docker', ['-H', `unix://${cluster.manager.socket}`, 'service', 'inspect', deployed.name], { encoding: 'utf8' });
    expect(inspected).toContain('--token-file');
    expect(inspected).toContain('AWS_SHARED_CREDENTIALS_FILE=/run/secrets/');
    for (const value of [token, secretKey]) expect(inspected).not.toContain(value);
    for (const h of cluster.hosts) {
      const ids = execFileSync('docker', ['-H', `unix://${h.socket}`, 'ps', '-q', '--filter', `label=com.docker.swarm.service.name=${deployed.name}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(ids.length, h.name).toBeGreaterThanOrEqual(1);
      const containers = execFileSync('docker', ['-H', `unix://${h.socket}`, 'inspect', ...ids], { encoding: 'utf8' });
      for (const value of [token, secretKey]) expect(containers, h.name).not.toContain(value);
    }
    expect(JSON.stringify(lines)).not.toContain(token);
    // Deploying the same settings again changes nothing.
    expect((await ensureSwarmServer(cluster.docker(), spec(), logger)).changed).toBe(false);
  }, 300_000);

  it('rolls every replica over to a new version in place: no request on a kept-alive connection fails', async () => {
    const client = clientOnHost(cluster.manager, bodyFile, urls(), token);
    await until('the client has answers from every replica', () => byReplica(client.answers).size === cluster.hosts.length && client.answers.length >= 12);
    const started = Date.now();
    const { logger, lines } = captureLogger('warn');
    const deployed = await ensureSwarmServer(cluster.docker(), spec({ alias: 'canary' }), logger).catch(async (err: unknown) => {
      await printTaskHistory(cluster, lines);
      throw err;
    });
    const rolledMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 1000));
    const answers = await client.stop();
    for (const [replica, seen] of byReplica(answers)) {
      const failed = seen.filter((a) => !a.outcome.startsWith('v'));
      if (failed.length > 0) console.info(`${replica}: ${failed.length} failed from ${new Date(failed[0].at).toISOString()} to ${new Date(failed.at(-1)!.at).toISOString()}`);
    }
    expect(deployed.changed).toBe(true);
    const replicas = byReplica(answers);
    console.info(`rolling swap of ${cluster.hosts.length} replicas in ${rolledMs} ms: ${[...replicas].map(([r, a]) => `${r} ${a.length} answers`).join(', ')}`);
    expect([...replicas.keys()].sort()).toEqual(cluster.hosts.map((h) => h.address).sort());
    for (const [replica, seen] of replicas) {
      expect(seen.filter((a) => !a.outcome.startsWith('v')), replica).toEqual([]);
      expect([seen[0].outcome, seen.at(-1)!.outcome], replica).toEqual(['v1', 'v2']);
    }
    expect((await service()).UpdateStatus?.State).toBe('completed');
    expect(Object.values(await readyVersions())).toEqual(['2', '2', '2']);
  }, 600_000);

  it('a worker lost while serving: the other replicas keep answering every request, and the deployment stays current', async () => {
    const lost = cluster.workers[cluster.workers.length - 1];
    const kept = cluster.hosts.filter((h) => h !== lost).map((h) => h.address);
    // Version 2 on every node (nothing to do when the rolling swap above succeeded).
    await ensureSwarmServer(cluster.docker(), spec({ alias: 'canary' }), captureLogger().logger);
    const client = clientOnHost(cluster.manager, bodyFile, urls(), token);
    await until('the client has answers from every replica', () => byReplica(client.answers).size === cluster.hosts.length && client.answers.length >= 12);
    const lostAt = Date.now();
    cluster.loseHost(lost);
    // Starting `ip` and `kill` can take a second under load: from here on the host is surely gone.
    const goneAt = Date.now();
    const downAfter = await cluster.waitForNodes('down', [lost]);
    await new Promise((r) => setTimeout(r, 3000));
    const answers = await client.stop();
    const after = byReplica(answers.filter((a) => a.at > lostAt));
    console.info(`lost ${lost.name} (gone ${goneAt - lostAt} ms after the loss began); node down after ${Math.round(downAfter)} ms; answers since the loss: ${[...after].map(([r, a]) => `${r} ${a.length}`).join(', ')}`);
    for (const replica of kept) {
      const seen = byReplica(answers).get(replica)!;
      expect(seen.filter((a) => a.outcome !== 'v2'), replica).toEqual([]);
      // Answering all along, not only before: at least one answer a second since the loss.
      expect(after.get(replica)?.length ?? 0, replica).toBeGreaterThanOrEqual(Math.floor((Date.now() - lostAt) / 1000));
    }
    // The loss was real: the lost replica answered nothing once its link was cut.
    expect((after.get(lost.address) ?? []).filter((a) => a.outcome.startsWith('v') && a.at > goneAt + 1000)).toEqual([]);
    expect(await swarmServerCurrent(cluster.docker(), spec({ alias: 'canary' }))).toBe(true);
  }, 300_000);
});
