import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stageOutputs } from '../src/executors/container/output-staging';
import { containerOptions, type StepSpec } from '../src/executors/docker/container-spec';
import { StepLogSink } from '../src/executors/container/log-stream';
import { Redactor } from '../src/executors/container/redact';
import { dedupeMounts } from '../src/executors/container/project';
import { ContainerTask, LocalTarget, run } from '../src';
import { ContainerTaskNeedsDockerError } from '../src/public/executors';
import { captureLogger } from './helpers/log-capture';

const base: StepSpec = {
  image: 'img:1',
  command: ['python3', '-c', 'print(1)'],
  env: { A: '1' },
  labels: { 'dagwright.managed': 'true' },
  mounts: [{ source: '/p' }, { source: '/s', target: '/data', readOnly: true }],
  network: 'none',
};

describe('containerOptions', () => {
  it('maps a step to unprivileged create options with no network by default', () => {
    const o = containerOptions({ ...base, user: '1000:1000', workingDir: '/p' });
    expect(o).toMatchObject({
      Image: 'img:1',
      Cmd: ['python3', '-c', 'print(1)'],
      Env: ['A=1'],
      User: '1000:1000',
      WorkingDir: '/p',
      Labels: { 'dagwright.managed': 'true' },
      HostConfig: {
        NetworkMode: 'none',
        Privileged: false,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Mounts: [
          { Type: 'bind', Source: '/p', Target: '/p', ReadOnly: false },
          { Type: 'bind', Source: '/s', Target: '/data', ReadOnly: true },
        ],
      },
    });
    expect(o.HostConfig).not.toHaveProperty('NanoCpus');
    expect(o.HostConfig).not.toHaveProperty('Memory');
    expect(o.HostConfig).not.toHaveProperty('DeviceRequests');
  });

  it('maps cpus, memory (no swap beyond it), GPUs and host networking', () => {
    const o = containerOptions({ ...base, cpus: 1.5, memoryMb: 64, gpus: 2, network: 'host' });
    expect(o.HostConfig).toMatchObject({
      NetworkMode: 'host',
      NanoCpus: 1_500_000_000,
      Memory: 64 * 1024 * 1024,
      MemorySwap: 64 * 1024 * 1024,
      DeviceRequests: [{ Driver: '', Count: 2, Capabilities: [['gpu']] }],
    });
  });

  it('rejects an empty command', () => {
    expect(() => containerOptions({ ...base, command: [] })).toThrow(/non-empty array/);
  });
});

describe('dedupeMounts', () => {
  it('drops a folder already inside a read-write mount at the same path', () => {
    expect(dedupeMounts([{ source: '/p' }, { source: '/p/data' }, { source: '/q', readOnly: true }, { source: '/q/x' }])).toEqual([
      { source: '/p' },
      { source: '/q', readOnly: true },
      { source: '/q/x' },
    ]);
  });
});

describe('Redactor', () => {
  const r = new Redactor({ AWS_SECRET_ACCESS_KEY: 's3cr3tvalue', API_TOKEN: 'tok-123456', PLAIN: 'visible-value' });
  it('removes secret values from text and secret-named fields from records', () => {
    expect(r.text('key=s3cr3tvalue and tok-123456; visible-value')).toBe('key=[redacted] and [redacted]; visible-value');
    expect(r.value({ password: 'x', nested: { myToken: 'y', note: 'has s3cr3tvalue' }, n: 1 })).toEqual({
      password: '[redacted]',
      nested: { myToken: '[redacted]', note: 'has [redacted]' },
      n: 1,
    });
    expect(r.env({ API_TOKEN: 'tok-123456', PLAIN: 'visible-value' })).toEqual({ API_TOKEN: '[redacted]', PLAIN: 'visible-value' });
  });
});

describe('StepLogSink', () => {
  it('re-logs pino lines at their level, plain lines at info, and keeps a redacted tail', async () => {
    const { logger, lines } = captureLogger('trace');
    const sink = new StepLogSink(logger, new Redactor({ DB_PASSWORD: 'hunter2222' }), 3);
    sink.stderr.write('{"level":40,"time":1,"pid":7,"hostname":"c","runId":"r","taskId":"t","msg":"careful","rows":3}\n{"level":50,"msg":"task f');
    sink.stderr.write('ailed","err":{"message":"boom hunter2222"}}\n');
    sink.stdout.write('plain hunter2222\nno newline at end');
    await new Promise<void>((r) => sink.stdout.end(r));
    await new Promise<void>((r) => sink.stderr.end(r));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'careful'],
      [50, 'task failed'],
      [30, 'plain [redacted]'],
      [30, 'no newline at end'],
    ]);
    expect(lines[0]).toMatchObject({ rows: 3 });
    expect(lines[0].hostname).not.toBe('c');
    expect(lines[0].pid).not.toBe(7);
    expect(JSON.stringify(lines)).not.toContain('hunter2222');
    expect(sink.tail()).toEqual(['error: task failed: boom [redacted]', 'plain [redacted]', 'no newline at end']);
  });
});

describe('ContainerTask in process', () => {
  class Hello extends ContainerTask {
    override readonly retries = 3;
    override output() {
      return new LocalTarget('/tmp/never-written');
    }
    command() {
      return ['echo', 'hi'];
    }
  }

  it('fails at once, without retries, saying it needs the Docker executor', async () => {
    const { logger } = captureLogger('silent');
    const summary = await run(new Hello(), { logger });
    const record = summary.tasks.find((t) => t.family === 'Hello')!;
    expect(record).toMatchObject({ status: 'failed', attempts: 1 });
    expect(record.error).toMatch(/ContainerTask .*only the Docker executor can run it/);
    expect(new ContainerTaskNeedsDockerError('x').retryable).toBe(false);
  });
});

describe('stageOutputs (a ContainerTask step\'s outputs)', () => {
  it('names the staged path wherever an output path stands whole, and publishes only what was written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dagwright-stage-'));
    const file = new LocalTarget(join(dir, 'a.txt'));
    const folder = new LocalTarget(join(dir, 'a'));
    const staged = await stageOutputs([file, folder], undefined);
    const fileStaged = staged.rewrite(file.path);
    expect(fileStaged).not.toBe(file.path);
    expect(staged.rewrite(`--out=${file.path}`)).toBe(`--out=${fileStaged}`);
    expect(staged.rewrite(`{"o":"${folder.path}/x"}`)).toMatch(/^\{"o":".+dagwright-tmp.+\/a\/x"\}$/);
    expect(staged.rewrite(`${dir}/ab`)).toBe(`${dir}/ab`); // another path that merely starts alike
    expect(staged.rewrite(`/elsewhere${file.path}`)).toBe(`/elsewhere${file.path}`);
    expect(staged.mounts).toHaveLength(2);
    await writeFile(fileStaged, 'whole');
    await mkdir(staged.rewrite(folder.path));
    await writeFile(join(staged.rewrite(folder.path), 'x'), 'in folder');
    expect((await readdir(dir)).sort()).toEqual(staged.mounts.map((m) => m.source.slice(dir.length + 1)).sort()); // nothing at the final paths yet
    await staged.publish();
    expect(await readFile(file.path, 'utf8')).toBe('whole');
    expect(await readFile(join(folder.path, 'x'), 'utf8')).toBe('in folder');
    expect((await readdir(dir)).sort()).toEqual(['a', 'a.txt']);
  });
});
