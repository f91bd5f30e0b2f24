/**
 * The simulated month end to end with the model server in a Docker
 * container (flows/operate.ts --server docker), with the tiny settings of
 * operate.test.ts: routine flows in this process, traffic over HTTP to the
 * container on 127.0.0.1, the container following `champion` through the
 * store it shares with this process (its prediction log is what the monitor
 * and the late labels read). Needs an engine and dagwright/server
 * (containers/build --offline --baked); skipped without an engine, failing under CI=true.
 */
import Docker from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseStore } from '../src';
import { createLogger } from '../src/public/runtime';
import { RunHistory } from '../src/public/store';
import { DockerServerParts } from '../flows/operate-docker';
import { type OperateResult, parseOperateArgs, runOperate, SHIFTED } from '../flows/operate';
import { ModelRegistry } from '../tasks/registry/registry';
import { readPredictionLog, removeDockerServers, SERVER_IMAGE, serverContainers, ServerLabels } from '../tasks/serving';
import { imageId } from '../tasks/serving/deploy/server-deployment-spec';
import { describeDocker } from './helpers/docker';

const logger = createLogger({ level: 'warn' });
const settings = { days: 3, monitorsPerDay: 1, shiftDay: 2, shiftStep: 0.5, maxShift: 0.5, traffic: 40, labelShare: 0.5, labelDelay: 1, incrementSize: 1000, epochs: 1, retrainEpochs: 1, retrainMnist: 1000, logger };

/** The month's Docker parts, inspecting the server container once it serves (it is removed when the month ends). */
class InspectedParts extends DockerServerParts {
  inspected: Docker.ContainerInspectInfo | undefined;

  override async awaitVersion(version: number): Promise<void> {
    await super.awaitVersion(version);
    this.inspected ??= await new Docker().getContainer(this.deployed!.containerId).inspect();
  }
}

describeDocker('a simulated month with the server in Docker (tiny settings)', () => {
  const docker = new Docker();
  let store: string;
  let parts: InspectedParts | undefined;
  let result: OperateResult;

  beforeAll(async () => {
    await imageId(docker, SERVER_IMAGE); // a DeploymentError saying how to build it when missing
    store = await mkdtemp(join(tmpdir(), 'dagwright-operate-docker-'));
    result = await runOperate({ store, ...settings }, (s, l) => (parts = new InspectedParts(s, l)));
  }, 900_000);

  afterAll(async () => {
    const port = parts?.inspected?.Config.Labels[ServerLabels.port];
    if (port) await removeDockerServers(docker, Number(port));
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('served every day from one dagwright/server container, as the invoking user, which is gone afterwards', async () => {
    const info = parts!.inspected!;
    expect(info.Config.Image).toBe(SERVER_IMAGE);
    expect(info.Config.User).toBe(`${process.getuid!()}:${process.getgid!()}`);
    expect(info.Config.Cmd).toEqual(expect.arrayContaining(['--host', '127.0.0.1']));
    expect(await serverContainers(docker, Number(info.Config.Labels[ServerLabels.port]))).toEqual([]);
  });

  it("answered every day's traffic over HTTP without a failure, by registered versions, the optdigits share from the shift day", async () => {
    const registered = (await new ModelRegistry(store, 'mnist-digits').versions()).map((v) => String(v.version));
    for (const day of result.timeline) {
      expect(day.requests).toBe(settings.traffic);
      expect(day.failedRequests).toBe(0);
      for (const v of Object.keys(day.servedVersions)) expect(registered).toContain(v);
      expect(day.bySource[SHIFTED]?.predictions ?? 0).toBe(day.day < settings.shiftDay ? 0 : settings.traffic * settings.maxShift);
    }
    // What the container logged is what the monitor read and the late labels joined.
    expect(await readPredictionLog(store, 'mnist-digits')).toHaveLength(settings.days * settings.traffic);
    expect(result.timeline[1].overall.realized).not.toBeNull();
  });

  it('ran the routine flows in this process, each a run recorded in the store', async () => {
    const records = await RunHistory.forStore(parseStore(store)).list(100);
    expect(records.filter((r) => r.flow === 'mnist-register')).toHaveLength(settings.days);
    expect(records.filter((r) => r.flow === 'drift-monitor')).toHaveLength(settings.days);
    expect(records.every((r) => r.status === 'succeeded')).toBe(true);
  });
});

it('--server takes inprocess or docker, and docker does not go with --chaos', () => {
  expect(parseOperateArgs(['--server', 'docker'])).toMatchObject({ server: 'docker' });
  expect(() => parseOperateArgs(['--server', 'kubernetes'])).toThrow(/--server got "kubernetes"; expected inprocess or docker/);
  expect(() => parseOperateArgs(['--server', 'docker', '--chaos'])).toThrow(/--chaos runs the server as a process of its own/);
});
