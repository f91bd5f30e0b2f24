import Docker from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { run } from '../src';
import { ModelRegistry } from '../tasks/registry/registry';
import { DeployModelServer } from '../tasks/serving/deploy/deploy-task';
import { removeDockerServers, serverContainers } from '../tasks/serving/deploy/docker-deployment';
import { imageId, MODEL_SERVER_KIND, SERVER_IMAGE, ServerLabels } from '../tasks/serving/deploy/server-deployment-spec';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { describeDocker } from './helpers/docker';
import { pruneCommand } from '../app/cli/prune';

const logger = createLogger({ level: 'silent' });

describeDocker('model server deployed as a Docker container', () => {
  const docker = new Docker();
  const port = 21000 + Math.floor(Math.random() * 20000);
  const url = `http://127.0.0.1:${port}`;
  let store: string;

  beforeAll(async () => {
    await imageId(docker, SERVER_IMAGE); // a DeploymentError saying how to build it when missing
    store = await mkdtemp(join(tmpdir(), 'serve-docker-'));
    await registerSeededModel(store, 'mnist-digits', 41, 'champion');
  });

  afterAll(async () => {
    await removeDockerServers(docker, port);
    await rm(store, { recursive: true, force: true });
  });

  const status = (summary: Awaited<ReturnType<typeof run>>) => summary.tasks.find((t) => t.id.startsWith('DeployModelServer'))?.status;

  it('runs a labelled, health-checked, restart-unless-stopped container on the host network, ready at the alias version; a re-run does nothing', async () => {
    const first = await run(new DeployModelServer({ store, target: 'docker', port }), { logger });
    expect(first.ok).toBe(true);
    expect(status(first)).toBe('ran');
    const containers = await serverContainers(docker, port);
    expect(containers).toHaveLength(1);
    const info = await docker.getContainer(containers[0].Id).inspect();
    expect(info.Config.Labels[ServerLabels.kind]).toBe(MODEL_SERVER_KIND);
    expect(info.Config.Labels['dagwright.managed']).toBeUndefined(); // prune leaves deployed servers alone
    expect(info.HostConfig.NetworkMode).toBe('host');
    expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    expect(info.Config.User).toBe(`${process.getuid!()}:${process.getgid!()}`);
    expect(info.Config.Healthcheck?.Test?.join(' ')).toContain(`127.0.0.1:${port}/v2/health/ready`);
    const reply = await call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 1)) });
    expect(reply).toMatchObject({ status: 200, body: { model_version: '1' } });
    const deadline = Date.now() + 90_000; // the health check is a process in the container: slow to report on a loaded machine
    let health: string | undefined;
    while (Date.now() < deadline && (health = (await docker.getContainer(containers[0].Id).inspect()).State.Health?.Status) !== 'healthy') await new Promise((r) => setTimeout(r, 500));
    expect(health).toBe('healthy');

    const again = await run(new DeployModelServer({ store, target: 'docker', port }), { logger });
    expect(status(again)).toBe('complete');
  }, 150_000);

  it('follows the alias inside the container; the task stays complete at the new version', async () => {
    const v2 = await registerSeededModel(store, 'mnist-digits', 42);
    await new ModelRegistry(store, 'mnist-digits').setAlias('champion', v2, 'docker test');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await call(`${url}/v2/models/mnist-digits`)).body.versions?.[0] !== '2') await new Promise((r) => setTimeout(r, 200));
    expect((await call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 2)) })).body.model_version).toBe('2');
    expect(status(await run(new DeployModelServer({ store, target: 'docker', port }), { logger }))).toBe('complete');
  });

  it('replaces the container when its settings change, without a failed request', async () => {
    const before = (await serverContainers(docker, port)).map((c) => c.Id);
    let running = true;
    const outcomes: string[] = [];
    const client = (async () => {
      for (let i = 0; running; i++) {
        try {
          outcomes.push(String((await call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 10 + (i % 10))) })).status));
        } catch (err) {
          outcomes.push(`error: ${(err as Error).cause ?? (err as Error).message}`);
        }
      }
    })();
    const replaced = await run(new DeployModelServer({ store, target: 'docker', port, maxBatchSize: 8 }), { logger });
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await client;
    expect(status(replaced)).toBe('ran');
    expect(outcomes.filter((o) => o !== '200')).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(20);
    const after = await serverContainers(docker, port);
    expect(after).toHaveLength(1);
    expect(before).not.toContain(after[0].Id);
    const info = await docker.getContainer(after[0].Id).inspect();
    expect(info.Config.Cmd).toContain('--max-batch-size');
    expect((await call(`${url}/v2/health/ready`)).status).toBe(200);
  });

  it('dagwright prune lists a deployed server and keeps it; --servers removes it', async () => {
    const out: string[] = [];
    const io = { out: (text: string) => void out.push(text) };
    expect(await pruneCommand([], io)).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`kept model server \\w+ \\(running\\) for mnist-digits on port ${port}`));
    expect(await serverContainers(docker, port)).toHaveLength(1);
    expect(await pruneCommand(['--servers', '--port', String(port)], io)).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`removed model server \\w+ \\(running\\) for mnist-digits on port ${port}`));
    expect(await serverContainers(docker, port)).toHaveLength(0);
    expect((await call(`${url}/v2/health/ready`).catch((err: Error) => ({ status: err.message }))).status).not.toBe(200);
  });
});
