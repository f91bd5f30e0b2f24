import { describe, expect, it } from 'vitest';
import { createLogger, TaskGraph, taskContext } from '../src/public/runtime';
import { LocalTarget, param, S3Target, Task, type TaskContext } from '../src';
import { SwarmExecutor, SwarmLocalStoreError, SwarmLocalTargetsError } from '../src/public/executors';
import { Labels as DockerLabels } from '../src/executors/docker';
import { assertRunnableOnSwarm, modeForEngine, pathInImage, serviceName, serviceOptions, type ServiceStepSpec } from '../src/executors/swarm';
import { FrameParser } from '../src/executors/swarm/service-logs';
import { createExecutor } from '../src/flow/executors';

const base: ServiceStepSpec = {
  name: 'dw-train-1-abcd',
  image: 'dagwright/runner-baked:latest',
  command: ['node', '/app/dist/flows/train.js', '--run-task', 'Train_x_123'],
  env: { DAGWRIGHT_RUN_ID: 'r1' },
  labels: { [DockerLabels.managed]: 'true', [DockerLabels.runId]: 'r1', [DockerLabels.taskId]: 'Train_x_123' },
  mounts: [],
  network: 'host',
};

describe('serviceOptions', () => {
  it('makes a one-shot job that is never restarted, attached to the predefined host network', () => {
    const body = serviceOptions(base);
    expect(body.Mode).toEqual({ ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } });
    expect(body.TaskTemplate.RestartPolicy.Condition).toBe('none');
    expect(body.TaskTemplate.Networks).toEqual([{ Target: 'host' }]);
    expect(body.TaskTemplate.ContainerSpec.Command).toEqual(base.command);
    expect(body.TaskTemplate.ContainerSpec.Env).toEqual(['DAGWRIGHT_RUN_ID=r1']);
    expect(body.TaskTemplate.ContainerSpec.CapabilityDrop).toEqual(['ALL']);
    expect(body.Labels).toEqual(base.labels);
    expect(body.TaskTemplate.ContainerSpec.Labels).toEqual(base.labels);
    expect(body.TaskTemplate.Resources).toEqual({ Limits: {}, Reservations: {} });
  });

  it('reserves and limits cpus and memory, and passes placement constraints, user, dir and mounts', () => {
    const body = serviceOptions({
      ...base,
      cpus: 1.5,
      memoryMb: 512,
      placement: ['node.labels.gpu==true', 'node.role==worker'],
      user: '1000:1000',
      workingDir: '/app',
      mounts: [{ source: '/mnt/nfs/data', readOnly: true }],
      stopGraceMs: 2500,
      network: 'none',
    });
    const amounts = { NanoCPUs: 1_500_000_000, MemoryBytes: 512 * 1024 * 1024 };
    expect(body.TaskTemplate.Resources).toEqual({ Limits: amounts, Reservations: amounts });
    expect(body.TaskTemplate.Placement.Constraints).toEqual(['node.labels.gpu==true', 'node.role==worker']);
    expect(body.TaskTemplate.ContainerSpec).toMatchObject({
      User: '1000:1000',
      Dir: '/app',
      StopGracePeriod: 2_500_000_000,
      Mounts: [{ Type: 'bind', Source: '/mnt/nfs/data', Target: '/mnt/nfs/data', ReadOnly: true }],
    });
    expect(body.TaskTemplate.Networks).toEqual([{ Target: 'none' }]);
  });

  it('runs one never-restarted replica instead of a job on engines before 24.0 (moby/moby#44312)', () => {
    expect(serviceOptions({ ...base, mode: 'replicated' }).Mode).toEqual({ Replicated: { Replicas: 1 } });
    expect(serviceOptions({ ...base, mode: 'replicated' }).TaskTemplate.RestartPolicy.Condition).toBe('none');
    expect(modeForEngine('20.10.24+dfsg1')).toBe('replicated');
    expect(modeForEngine('24.0.7')).toBe('job');
    expect(modeForEngine('28.2.2')).toBe('job');
    expect(modeForEngine(undefined)).toBe('job');
  });

  it('refuses an empty command and a name Swarm would refuse', () => {
    expect(() => serviceOptions({ ...base, command: [] })).toThrow('Expected `command` to be a non-empty array');
    expect(() => serviceOptions({ ...base, name: 'has space' })).toThrow('Expected `name`');
  });

  it('names services dw-<family>-<suffix>, within 63 characters of [a-z0-9-]', () => {
    expect(serviceName('TrainModel', '1-abcd')).toBe('dw-trainmodel-1-abcd');
    expect(serviceName('mnist.Preprocess_v2', '2-ff')).toBe('dw-mnist-preprocess-v2-2-ff');
    const long = serviceName('X'.repeat(200), '1-0123abcd');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^dw-x+-1-0123abcd$/);
    expect(serviceName('___', '1-a')).toBe('dw-1-a');
  });
});

describe('pathInImage', () => {
  it('maps a TypeScript flow script to its compiled JavaScript under /app/dist', () => {
    expect(pathInImage('/home/me/proj/flows/train.ts', '/home/me/proj')).toBe('/app/dist/flows/train.js');
    expect(pathInImage('/home/me/proj/flows/train.mts', '/home/me/proj')).toBe('/app/dist/flows/train.mjs');
  });

  it('keeps compiled JavaScript where it is, under the image project folder', () => {
    expect(pathInImage('/home/me/proj/dist/flows/train.js', '/home/me/proj')).toBe('/app/dist/flows/train.js');
    expect(pathInImage('/home/me/proj/scripts/run.js', '/home/me/proj', '/srv/app')).toBe('/srv/app/scripts/run.js');
  });

  it('refuses a flow script outside the project', () => {
    expect(() => pathInImage('/tmp/flow.ts', '/home/me/proj')).toThrow('is outside the project /home/me/proj');
  });
});

class LocalStep extends Task<{ n: number }> {
  static override params = { n: param.int() };
  override output() {
    return new LocalTarget(`/tmp/dagwright-swarm-unit/out-${this.params.n}.txt`);
  }
  async run() {}
}

class S3Step extends Task<{ n: number }> {
  static override params = { n: param.int() };
  override requires() {
    return [new LocalStep({ n: this.params.n }), new LocalStep({ n: this.params.n + 1 })];
  }
  override output() {
    return new S3Target(`s3://bucket/out-${this.params.n}.txt`);
  }
  async run() {}
}

describe('refusing what Swarm nodes cannot run', () => {
  it('lists every task with local targets, and the targets', () => {
    const graph = TaskGraph.build([new S3Step({ n: 1 })]);
    let caught: unknown;
    try {
      assertRunnableOnSwarm('s3://bucket/runs', graph);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SwarmLocalTargetsError);
    const err = caught as SwarmLocalTargetsError;
    expect(Object.keys(err.tasks).sort()).toEqual([new LocalStep({ n: 1 }).id, new LocalStep({ n: 2 }).id].sort());
    expect(err.message).toContain('/tmp/dagwright-swarm-unit/out-1.txt');
    expect(err.message).toContain('--store s3://bucket/prefix');
    expect(err.message).not.toContain(new S3Step({ n: 1 }).id);
  });

  it('accepts a graph of S3 targets and refuses a local store', () => {
    class S3Only extends Task {
      override output() {
        return [new S3Target('s3://bucket/a.txt'), new S3Target('s3://bucket/b.txt')];
      }
      async run() {}
    }
    expect(() => assertRunnableOnSwarm('s3://bucket/runs', TaskGraph.build([new S3Only()]))).not.toThrow();
    expect(() => assertRunnableOnSwarm('/data/store')).toThrow(SwarmLocalStoreError);
    expect(() => assertRunnableOnSwarm('file:///data/store')).toThrow('use --store s3://bucket/prefix');
  });

  it('createExecutor("swarm") refuses before it talks to any engine', async () => {
    const setup = {
      logger: createLogger({ level: 'silent' }),
      invocation: { entry: '/x/flow.ts', args: [] },
      graph: TaskGraph.build([new S3Step({ n: 1 })]),
    };
    const noEngine = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///tmp/dagwright-no-engine.sock';
    try {
      await expect(createExecutor('swarm', { ...setup, store: '/tmp/store' })).rejects.toThrow(SwarmLocalStoreError);
      await expect(createExecutor('swarm', { ...setup, store: 's3://b/p' })).rejects.toThrow(SwarmLocalTargetsError);
    } finally {
      if (noEngine === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = noEngine;
    }
  });

  it('execute() refuses a task with local targets without creating a service', async () => {
    const calls: string[] = [];
    const docker = new Proxy({}, { get: (_t, key) => () => calls.push(String(key)) }) as never;
    const executor = new SwarmExecutor({ docker, invocation: { entry: '/x/flow.ts', args: [] }, projectRoot: '/x' });
    const ctx: TaskContext = taskContext({ runId: 'r', taskId: 't', attempt: 1, signal: new AbortController().signal, logger: createLogger({ level: 'silent' }) });
    await expect(executor.execute(new LocalStep({ n: 3 }), ctx)).rejects.toThrow(SwarmLocalTargetsError);
    expect(calls).toEqual([]);
  });
});

describe('the step spec', () => {
  const ctx: TaskContext = taskContext({ runId: 'run-1', taskId: 't', attempt: 2, signal: new AbortController().signal, logger: createLogger({ level: 'silent' }) });

  class Heavy extends Task {
    override readonly resources = { cpus: 2, memoryMb: 1024, placement: ['node.labels.big==yes'], env: { MODE: 'fast' } };
    override output() {
      return new S3Target('s3://bucket/heavy.txt');
    }
    async run() {}
  }

  it('runs the flow script from the image with --run-task, the run ids in env and labels, on the host network', () => {
    const saved = { ...process.env };
    process.env.AWS_SECRET_ACCESS_KEY = 'very-secret-value';
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:4568';
    process.env.DAGWRIGHT_S3_FORCE_PATH_STYLE = '1';
    try {
      const executor = new SwarmExecutor({
        docker: {} as never,
        invocation: { entry: '/home/me/proj/flows/train.ts', args: ['--store', 's3://b/p'] },
        projectRoot: '/home/me/proj',
        user: '1000:1000',
      });
      const task = new Heavy();
      const spec = executor.stepSpec(task, ctx);
      expect(spec.image).toBe('dagwright/runner-baked:latest');
      expect(spec.command).toEqual(['node', '/app/dist/flows/train.js', '--store', 's3://b/p', '--run-task', task.id]);
      expect(spec.workingDir).toBe('/app');
      expect(spec.network).toBe('host');
      expect(spec).toMatchObject({ cpus: 2, memoryMb: 1024, placement: ['node.labels.big==yes'], user: '1000:1000' });
      expect(spec.env).toMatchObject({
        MODE: 'fast',
        DAGWRIGHT_RUN_ID: 'run-1',
        DAGWRIGHT_ATTEMPT: '2',
        AWS_SECRET_ACCESS_KEY: 'very-secret-value',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:4568',
        DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
      });
      expect(spec.labels).toMatchObject({ [DockerLabels.managed]: 'true', [DockerLabels.runId]: 'run-1', [DockerLabels.taskId]: task.id });
      // Credentials never go into labels or the service name.
      expect(JSON.stringify(spec.labels) + spec.name).not.toContain('very-secret-value');
    } finally {
      process.env = saved;
    }
  });
});

describe('FrameParser', () => {
  const frame = (type: number, text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it('splits multiplexed log bytes into frames, across chunk boundaries', () => {
    const bytes = Buffer.concat([frame(1, '2026-01-01T00:00:00.1Z out\n'), frame(2, '2026-01-01T00:00:00.2Z err\n')]);
    const parser = new FrameParser();
    const frames = [...parser.push(bytes.subarray(0, 5)), ...parser.push(bytes.subarray(5, 30)), ...parser.push(bytes.subarray(30))];
    expect(frames).toEqual([
      { stream: 'stdout', raw: '2026-01-01T00:00:00.1Z out\n' },
      { stream: 'stderr', raw: '2026-01-01T00:00:00.2Z err\n' },
    ]);
  });
});
