/**
 * The model server deployed as a Swarm service, on a one-node swarm on
 * loopback (made here unless the engine already is a manager, and left
 * again): a real registered model, dagwright/server:latest, requests from a
 * plain HTTP client, both over kept-alive connections and one new
 * connection a request, through a rolling update.
 */
import Docker from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../src';
import { pruneCommand } from '../app/cli/prune';
import { ModelRegistry } from '../tasks/registry/registry';
import { DeployModelServer, type DeployParams } from '../tasks/serving/deploy/deploy-task';
import { TOKEN_ENV } from '../tasks/serving/server-options';
import { imageId, MODEL_SERVER_KIND, SERVER_IMAGE, ServerLabels } from '../tasks/serving/deploy/server-deployment-spec';
import { removeSwarmServers, serverServices, swarmServiceName } from '../tasks/serving/deploy/swarm-deployment';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { describeDocker } from './helpers/docker';
import { captureLogger } from './helpers/log-capture';
import { joinOrCreateSwarm, leaveSwarm, type SwarmHandle } from './helpers/swarm';

const token = `swarm-serve-${process.pid}-do-not-log`;
const auth = { authorization: `Bearer ${token}` };

/** One request on a new connection (no keep-alive): what a client without a connection pool sees. Never throws. */
function inferOnNewConnection(url: string, body: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...auth } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve(res.statusCode === 200 ? `v${(JSON.parse(text) as { model_version: string }).model_version}` : `status ${res.statusCode}`));
    });
    req.on('error', (err) => resolve(`error ${err.message}`));
    req.end(body);
  });
}

interface Answer {
  /** `v<version>`, `status <code>` or `error <message>`. */
  readonly outcome: string;
  /** When it came back, ms since the clients started. */
  readonly at: number;
}

/**
 * Clients sending requests one after another until stopped: two over kept-alive connections (fetch's pool), one
 * on a new connection a request. `stop()` gives each client's answers in order.
 */
function startClients(url: string): { stop: () => Promise<{ keptAlive: Answer[][]; newConnections: Answer[] }> } {
  let running = true;
  const started = performance.now();
  const body = JSON.stringify(uint8Request(testImages(1, 5)));
  const keptAlive = async (): Promise<string> => {
    try {
      const reply = await call(url, { raw: body, headers: auth });
      return reply.status === 200 ? `v${reply.body.model_version}` : `status ${reply.status}`;
    } catch (err) {
      return `error ${String((err as Error).cause ?? (err as Error).message)}`;
    }
  };
  const loop = async (send: () => Promise<string>) => {
    const seen: Answer[] = [];
    while (running) seen.push({ outcome: await send(), at: performance.now() - started });
    return seen;
  };
  const clients = Promise.all([loop(keptAlive), loop(keptAlive), loop(() => inferOnNewConnection(url, body))]);
  return {
    stop: async () => {
      running = false;
      const [a, b, fresh] = await clients;
      return { keptAlive: [a, b], newConnections: fresh };
    },
  };
}

/**
 * Every client starts on the old version and ends on the new one, and the old one stops answering soon after the
 * new one starts: an idle kept-alive connection to the old server may still carry a request while that server
 * drains its connections (at most 2 s).
 */
function expectOldThenNew(clients: readonly (readonly Answer[])[], old: string, next: string): void {
  const all = clients.flat();
  const firstNew = Math.min(...all.filter((a) => a.outcome === next).map((a) => a.at));
  const lastOld = Math.max(...all.filter((a) => a.outcome === old).map((a) => a.at));
  for (const answers of clients) {
    const versions = answers.map((a) => a.outcome).filter((o) => o.startsWith('v'));
    expect([versions[0], versions.at(-1)]).toEqual([old, next]);
  }
  expect(lastOld - firstNew).toBeLessThan(3000);
}

describeDocker('model server deployed as a Swarm service', () => {
  const docker = new Docker();
  const port = 21000 + Math.floor(Math.random() * 20000);
  const url = `http://127.0.0.1:${port}`;
  const inferUrl = `${url}/v2/models/mnist-digits/infer`;
  let store: string;
  let swarm: SwarmHandle | undefined;
  let registry: ModelRegistry;
  const savedToken = process.env[TOKEN_ENV];
  const deploy = (params: Partial<DeployParams> = {}) => new DeployModelServer({ store, target: 'swarm', port, ...params });
  const statusOf = (summary: Awaited<ReturnType<typeof run>>) => summary.tasks.find((t) => t.id.startsWith('DeployModelServer'))?.status;
  const service = async () => (await docker.getService(swarmServiceName({ store, model: 'mnist-digits', alias: '', port })).inspect()) as Docker.Service;

  beforeAll(async () => {
    await imageId(docker, SERVER_IMAGE); // a DeploymentError saying how to build it when missing
    process.env[TOKEN_ENV] = token;
    store = await mkdtemp(join(tmpdir(), 'serve-swarm-'));
    registry = new ModelRegistry(store, 'mnist-digits');
    await registerSeededModel(store, 'mnist-digits', 41, 'champion');
    await registerSeededModel(store, 'mnist-digits', 42, 'canary');
    swarm = await joinOrCreateSwarm(docker);
  });

  afterAll(async () => {
    try {
      await removeSwarmServers(docker, port);
      // A removed service's server hands its port over for up to 10 s before it exits: do not wait for that here.
      const filters = JSON.stringify({ label: [`com.docker.swarm.service.name=${swarmServiceName({ store, model: 'mnist-digits', alias: '', port })}`] });
      for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    } finally {
      await leaveSwarm(docker, swarm);
      if (savedToken === undefined) delete process.env[TOKEN_ENV];
      else process.env[TOKEN_ENV] = savedToken;
      await rm(store, { recursive: true, force: true });
    }
  }, 60_000);

  it('runs a labelled, health-checked, rolling-update service on the host network, ready at the alias version; a re-run does nothing', async () => {
    const { logger, lines } = captureLogger();
    const first = await run(deploy(), { logger });
    expect(statusOf(first)).toBe('ran');
    const spec = (await service()).Spec!;
    const container = (spec.TaskTemplate as Docker.ContainerTaskSpec).ContainerSpec!;
    expect(spec.Labels).toMatchObject({ [ServerLabels.kind]: MODEL_SERVER_KIND, [ServerLabels.model]: 'mnist-digits', [ServerLabels.port]: String(port) });
    expect(spec.Labels?.['dagwright.managed']).toBeUndefined(); // step prune leaves deployed servers alone
    const networks = spec.TaskTemplate?.Networks ?? [];
    expect(networks).toHaveLength(1);
    expect((await docker.getNetwork(networks[0].Target!).inspect()).Name).toBe('host');
    expect(spec.Mode?.Replicated?.Replicas).toBe(1);
    expect(spec.UpdateConfig).toMatchObject({ Parallelism: 1, Order: 'start-first', FailureAction: 'rollback' });
    expect(spec.RollbackConfig).toMatchObject({ Parallelism: 1, Order: 'start-first' });
    expect(container.User).toBe(`${process.getuid!()}:${process.getgid!()}`);
    expect(container.CapabilityDrop).toEqual(['ALL']);
    expect(container.Mounts).toEqual([expect.objectContaining({ Type: 'bind', Source: store, Target: store })]);
    // The engine answers with Go's field name, Healthcheck (the create body's HealthCheck matches it case-insensitively).
    expect((container as { Healthcheck?: Docker.HealthConfig }).Healthcheck?.Test?.join(' ')).toContain(`127.0.0.1:${port}/v2/health/ready`);
    // The token is a Swarm secret mounted as a file for the server's user alone: `docker service inspect` shows its name only.
    expect(container.Args).toContain('--token-file');
    expect((container.Secrets ?? []).map((s) => [s.SecretName, s.File?.Mode, s.File?.UID])).toEqual([[expect.stringMatching(/^dw-serve-\d+-[0-9a-f]{16}-token$/), 0o400, String(process.getuid!())]]);
    expect(JSON.stringify(spec)).not.toContain(token);
    expect(JSON.stringify(lines)).not.toContain(token);

    expect(await call(inferUrl, { body: uint8Request(testImages(1, 1)), headers: auth })).toMatchObject({ status: 200, body: { model_version: '1' } });
    expect((await call(inferUrl, { body: uint8Request(testImages(1, 1)) })).status).toBe(401);
    expect(statusOf(await run(deploy(), { logger }))).toBe('complete');
  });

  it('rolls over to new settings start-first: no kept-alive request fails, a new connection fails only at the handover instant', async () => {
    const clients = startClients(inferUrl);
    const started = Date.now();
    const updated = await run(deploy({ alias: 'canary', maxBatchSize: 8 }), { logger: captureLogger().logger });
    const updateMs = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { keptAlive, newConnections } = await clients.stop();
    expect(statusOf(updated)).toBe('ran');
    const keptAliveFailures = keptAlive.flat().filter((a) => !a.outcome.startsWith('v'));
    const refused = newConnections.filter((a) => !a.outcome.startsWith('v'));
    const refusedMs = refused.length === 0 ? 0 : refused.at(-1)!.at - refused[0].at;
    console.log(
      `swarm rolling update in ${updateMs} ms: ${keptAlive.flat().length} kept-alive requests, ${keptAliveFailures.length} failed; ` +
        `${newConnections.length} on new connections, ${refused.length} refused or reset within ${refusedMs.toFixed(1)} ms`,
    );
    expect(keptAliveFailures).toEqual([]);
    expect(newConnections.length).toBeGreaterThan(20);
    // Node 20 cannot listen twice on one port: between the old server closing its listener (which resets connections
    // not yet accepted) and the warmed one's bind (it retries every 5 ms), a new connection can fail.
    expect(refused.map((a) => a.outcome).filter((o) => !/ECONNREFUSED|ECONNRESET/.test(o))).toEqual([]);
    expect(refusedMs).toBeLessThan(250);
    expectOldThenNew([...keptAlive, newConnections], 'v1', 'v2');
    const now = await service();
    expect(now.UpdateStatus?.State).toBe('completed');
    expect((now.Spec?.TaskTemplate as Docker.ContainerTaskSpec).ContainerSpec?.Args).toEqual(expect.arrayContaining(['--alias', 'canary', '--max-batch-size', '8']));
    const tasks = (await docker.listTasks({ filters: JSON.stringify({ service: [now.ID], 'desired-state': ['running'] }) })) as { Status?: { State?: string } }[];
    expect(tasks.map((t) => t.Status?.State)).toEqual(['running']);
  });

  it('follows the alias inside the service: moving it swaps the version by itself; the task stays complete', async () => {
    const v3 = await registerSeededModel(store, 'mnist-digits', 43);
    await registry.setAlias('canary', v3, 'swarm test');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await call(`${url}/v2/models/mnist-digits`, { headers: auth })).body.versions?.[0] !== String(v3)) await new Promise((r) => setTimeout(r, 200));
    expect((await call(inferUrl, { body: uint8Request(testImages(1, 2)), headers: auth })).body.model_version).toBe(String(v3));
    expect(statusOf(await run(deploy({ alias: 'canary', maxBatchSize: 8 }), { logger: captureLogger().logger }))).toBe('complete');
  });

  it('rolls a failing update back: the task fails saying why, the old settings keep serving every request', async () => {
    const clients = startClients(inferUrl);
    const failed = await run(deploy({ alias: 'no-such-alias' }), { logger: captureLogger().logger });
    const { keptAlive, newConnections } = await clients.stop();
    expect(statusOf(failed)).toBe('failed');
    expect(failed.tasks[0].error).toMatch(/rolling update .* failed and ended rollback_completed[\s\S]*has no alias "no-such-alias"/);
    // The failed task never took the port: nothing was handed over, so nothing was refused either.
    expect([...keptAlive.flat(), ...newConnections].filter((a) => a.outcome !== 'v3')).toEqual([]);
    expect((await service()).UpdateStatus?.State).toBe('rollback_completed');
    // Rolled back is not "deployed": a re-run of the good settings rolls the tasks again.
    expect(await deploy({ alias: 'canary', maxBatchSize: 8 }).complete()).toBe(false);
  });

  it('dagwright prune lists the service and keeps it; --servers removes it', async () => {
    const out: string[] = [];
    const io = { out: (text: string) => void out.push(text) };
    expect(await pruneCommand([], io)).toBe(0);
    expect(out.join('')).toContain(`kept model server service ${swarmServiceName({ store, model: 'mnist-digits', alias: '', port })} (1 replica(s)) for mnist-digits on port ${port}`);
    expect(await serverServices(docker, port)).toHaveLength(1);
    expect(await pruneCommand(['--servers', '--port', String(port)], io)).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`removed model server service \\S+ \\(1 replica\\(s\\)\\) for mnist-digits on port ${port}`));
    expect(await serverServices(docker, port)).toHaveLength(0);
    // Swarm stops the task about 2 s later; its server stops listening at once.
    const deadline = Date.now() + 20_000;
    let ready = 200;
    while (Date.now() < deadline && (ready = (await call(`${url}/v2/health/ready`).catch(() => ({ status: 0 }))).status) === 200) await new Promise((r) => setTimeout(r, 250));
    expect(ready).not.toBe(200);
  });
});
