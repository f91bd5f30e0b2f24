/**
 * flows/register.ts --deploy: after training and registering, the flow makes
 * sure a model server serves the champion, as a user runs it (a real flow
 * process, a real small training run, dagwright/server:latest in Docker, a
 * plain HTTP client).
 */
import Docker from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeDockerServers, serverContainers } from '../tasks/serving/deploy/docker-deployment';
import { imageId, SERVER_IMAGE } from '../tasks/serving/deploy/server-deployment-spec';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { describeDocker } from './helpers/docker';
import { type FlowResult, runFlowProcess, startFlow } from './helpers/flow-process';

const small = ['--increment', '1', '--increment-size', '1000', '--epochs', '1', '--batch-size', '64', '--log-level', 'info'];
const counts = (result: FlowResult) => result.logs.find((l) => l.counts)?.counts as Record<string, number> | undefined;

describeDocker('flows/register.ts --deploy', () => {
  const docker = new Docker();
  const port = 21000 + Math.floor(Math.random() * 20000);
  let store: string;

  beforeAll(async () => {
    await imageId(docker, SERVER_IMAGE); // a DeploymentError saying how to build it when missing
    store = await mkdtemp(join(tmpdir(), 'serve-deploy-flow-'));
  });

  afterAll(async () => {
    await removeDockerServers(docker, port);
    await rm(store, { recursive: true, force: true });
  });

  it('--deploy docker trains, registers, then serves the champion from a container; a re-run does nothing', async () => {
    const args = [...small, '--deploy', 'docker', '--serve-port', String(port), '--store', store, '--executor', 'inprocess'];
    const first = await runFlowProcess('flows/register.ts', args);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const order = first.logs.filter((l) => l.msg === 'task succeeded').map((l) => String(l.taskId).split('_')[0]);
    expect(order.indexOf('DeployModelServer')).toBeGreaterThan(order.indexOf('RegisterModel'));
    expect(order.at(-1)).toBe('DeployModelServer');
    expect(await serverContainers(docker, port)).toHaveLength(1);
    const reply = await call(`http://127.0.0.1:${port}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(2, 7)) });
    expect(reply).toMatchObject({ status: 200, body: { model_name: 'mnist-digits', model_version: '1' } });

    const again = await runFlowProcess('flows/register.ts', args);
    expect(again.code).toBe(0);
    expect(counts(again)).toMatchObject({ ran: 0 });
  }, 180_000); // trains and registers in a flow process, then starts a container: minutes on a loaded machine

  it('--deploy in-process serves in the foreground until SIGTERM (the registration is already done)', async () => {
    const foregroundPort = port + 1;
    const { child, done } = startFlow('flows/register.ts', [...small, '--deploy', 'in-process', '--serve-port', String(foregroundPort), '--store', store]);
    // Serving in the foreground once the run is over: a SIGTERM before that cancels the run instead (exit 143).
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const inForeground = () => stderr.includes('started (SIGINT or SIGTERM stops it)');
    try {
      const deadline = Date.now() + 90_000;
      let status = 0;
      while ((status = (await call(`http://127.0.0.1:${foregroundPort}/v2/models/mnist-digits/versions/1/ready`).catch(() => ({ status: 0 }))).status) !== 200 || !inForeground()) {
        if (Date.now() > deadline || child.exitCode !== null) {
          child.kill('SIGKILL'); // its output is what says why
          throw new Error(`flows/register.ts --deploy in-process did not serve on port ${foregroundPort} (last status ${status}):\n${(await done).stderr.slice(-3000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      child.kill('SIGTERM');
    }
    const result = await done;
    expect(result.code).toBe(0);
    expect(counts(result)).toMatchObject({ ran: 1, complete: 1 });
  }, 150_000);

  it('--deploy in-process refuses a container executor before anything runs (its server would live in a step that ends)', async () => {
    const refused = await runFlowProcess('flows/register.ts', [...small, '--deploy', 'in-process', '--store', store, '--executor', 'docker']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/in-process model server runs in the flow's own process.*--executor inprocess/);
  });
});
