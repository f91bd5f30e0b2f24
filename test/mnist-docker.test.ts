/**
 * The MNIST register flow with every step in a Docker container: the same
 * data bytes and the same model (content hash) as in process. Needs an
 * engine and the runner image (.ci/docker-up, containers/build --offline);
 * skipped without them (failing under CI=true).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PreprocessIncrement } from '../tasks/mnist/preprocess-task';
import { TRAINING_JSON, TrainModel, type TrainingRecord } from '../tasks/mnist/train-task';
import { ModelRegistry } from '../tasks/registry/registry';
import { describeDocker } from './helpers/docker';
import { runFlowProcess } from './helpers/flow-process';

const slice = { increment: 1, incrementSize: 2000, epochs: 1, batchSize: 32 };
const args = ['--increment', '1', '--increment-size', '2000', '--epochs', '1', '--batch-size', '32'];
const stores: string[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => rm(s, { recursive: true, force: true })));
});

const summaryOf = (logs: Record<string, unknown>[]) => logs.find((l) => l.msg === 'run summary') as Record<string, any>;

describeDocker('MNIST flows with --executor docker', () => {
  it('runs preprocess, train, evaluate and register in containers, with the same bytes as in process', { timeout: 600_000 }, async () => {
    const [dockerStore, localStore] = await Promise.all([mkdtemp(join(tmpdir(), 'dagwright-mnist-docker-')), mkdtemp(join(tmpdir(), 'dagwright-mnist-inproc-'))]);
    stores.push(dockerStore, localStore);
    const inDocker = await runFlowProcess('flows/register.ts', [...args, '--store', dockerStore, '--executor', 'docker']);
    expect(inDocker.code, inDocker.stderr.slice(-3000)).toBe(0);
    const summary = summaryOf(inDocker.logs);
    expect(summary.counts).toMatchObject({ ran: 5, failed: 0 });
    expect(summary.ran.every((r: { executor: string }) => r.executor === 'docker')).toBe(true);
    // The training step's own log lines come back from its container.
    expect(inDocker.logs.some((l) => l.msg === 'training on the wasm backend' || l.msg === 'training on the tensorflow backend')).toBe(true);

    const inProcess = await runFlowProcess('flows/register.ts', [...args, '--store', localStore, '--executor', 'inprocess']);
    expect(inProcess.code, inProcess.stderr.slice(-3000)).toBe(0);

    const data = (store: string) => new PreprocessIncrement({ increment: 1, incrementSize: 2000, store }).output().path;
    for (const name of await readdir(data(localStore))) {
      expect((await readFile(join(data(dockerStore), name))).equals(await readFile(join(data(localStore), name))), name).toBe(true);
    }
    const training = (store: string) => new TrainModel({ ...slice, store }).output().file(TRAINING_JSON).readJson<TrainingRecord>();
    const [dockerTraining, localTraining] = await Promise.all([training(dockerStore), training(localStore)]);
    expect(dockerTraining.modelSha256).toBe(localTraining.modelSha256);
    const [dockerVersion] = await new ModelRegistry(dockerStore, 'mnist-digits').versions();
    expect(dockerVersion).toMatchObject({ version: 1, lineage: { training: { modelSha256: localTraining.modelSha256 } } });
    expect(await new ModelRegistry(dockerStore, 'mnist-digits').aliases()).toEqual({ champion: 1 });

    const again = await runFlowProcess('flows/register.ts', [...args, '--store', dockerStore, '--executor', 'docker']);
    expect(again.code).toBe(0);
    expect(summaryOf(again.logs).counts).toMatchObject({ ran: 0, complete: 1 });
  });
});
