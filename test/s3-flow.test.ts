import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyTask, param, run, S3Target, Task } from '../src';
import { createLogger, TaskGraph } from '../src/public/runtime';
import { createS3Client, type S3FileSystem, S3FileSystem as S3Fs } from '../src/public/store';
import { planRun } from '../src/plan';
import { runFlowProcess, type FlowResult } from './helpers/flow-process';
import { freshBucket, s3Endpoint, s3TestClient, s3TestFileSystem } from './helpers/s3';
import { type RunningS3Server, s3rverCredentials, startS3Server } from './helpers/s3-server';

let client: S3Client;
let fs: S3FileSystem;
let bucket: string;

beforeAll(async () => {
  client = s3TestClient();
  fs = s3TestFileSystem({}, client);
  bucket = await freshBucket(client, 'flows');
});

async function keysUnder(prefix: string): Promise<string[]> {
  const result = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (result.Contents ?? []).map((o) => o.Key!).sort();
}

/** Tasks made in the test get the injected file system from here. */
let taskFs: S3FileSystem;

class Numbers extends Task<{ prefix: string; n: number }> {
  static override params = { prefix: param.string(), n: param.int() };
  override output() {
    return new S3Target(`${this.params.prefix}/numbers-${this.params.n}.json`, taskFs);
  }
  async run() {
    await this.output().writeJson(Array.from({ length: this.params.n }, (_, i) => i));
  }
}

class Total extends Task<{ prefix: string }> {
  static override params = { prefix: param.string() };
  override requires() {
    return [1, 2, 3].map((n) => new Numbers({ prefix: this.params.prefix, n }));
  }
  override output() {
    return new S3Target(`${this.params.prefix}/total.txt`, taskFs);
  }
  async run() {
    const lists = await Promise.all(this.input().map((t) => t.readJson<number[]>()));
    await this.output().writeText(String(lists.flat().reduce((a, b) => a + b, 0)));
  }
}

describe('flows on S3', () => {
  it('run() with an injected client writes S3 targets, and a second run does nothing', async () => {
    taskFs = fs;
    const prefix = `s3://${bucket}/inprocess`;
    const logger = createLogger({ level: 'silent' });
    const first = await run(new Total({ prefix }), { logger });
    expect(first.ok).toBe(true);
    expect(first.tasks.filter((t) => t.status === 'ran')).toHaveLength(4);
    expect(await new S3Target(`${prefix}/total.txt`, fs).readText()).toBe(String(0 + 0 + 1 + 0 + 1 + 2));

    const second = await run(new Total({ prefix }), { logger });
    expect(second.ok).toBe(true);
    expect(second.tasks.map((t) => t.status)).toEqual(['complete']);
  });

  describe('the flow command line with --store s3://bucket/prefix', () => {
    const flow = 'test/fixtures/s3-flow.ts';
    const env = () => ({
      AWS_ENDPOINT_URL: s3Endpoint(),
      DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
      AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey,
    });
    const summaryOf = (result: FlowResult) => result.logs.find((l) => l.msg === 'run summary') as { counts: Record<string, number> };

    it('runs every task the first time and nothing the second', async () => {
      const store = `s3://${bucket}/cli/runs`;
      const first = await runFlowProcess(flow, ['--store', store, '--executor', 'inprocess', '--day', '2026-11-02'], env());
      expect(first.stderr).not.toMatch(/"level":50/);
      expect(first.code).toBe(0);
      expect(summaryOf(first).counts).toMatchObject({ ran: 3, failed: 0 });
      // Run history and each run's data (graph, task logs) live beside the outputs.
      const outputs = (await keysUnder('cli/runs/')).filter((k) => !k.startsWith('cli/runs/_runs/') && !k.startsWith('cli/runs/_run-data/'));
      expect(outputs).toEqual([
        'cli/runs/clean/2026-11-02.json',
        'cli/runs/models/2026-11-02/_SUCCESS',
        'cli/runs/models/2026-11-02/model.json',
        'cli/runs/models/2026-11-02/weights.bin',
        'cli/runs/raw/2026-11-02.csv',
      ]);

      const second = await runFlowProcess(flow, ['--store', `${store}/`, '--executor', 'inprocess', '--day', '2026-11-02'], env());
      expect(second.code).toBe(0);
      expect(second.logs.some((l) => l.msg === 'everything is complete; nothing to run')).toBe(true);
      expect(summaryOf(second).counts).toMatchObject({ ran: 0, complete: 1 });
    }, 180_000); // two child processes; slow when the machine is loaded

    it('an S3 store without a bucket is a usage error (exit 2) before anything runs', async () => {
      const result = await runFlowProcess(flow, ['--store', 's3:///prefix', '--executor', 'inprocess'], env());
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--store got "s3:///prefix": an S3 URI needs a bucket');
    });

    it('a store in a missing bucket fails the run with a message naming the bucket and endpoint', async () => {
      const result = await runFlowProcess(flow, ['--store', 's3://no-such-bucket-for-flow/x', '--executor', 'inprocess'], env());
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`bucket \\"no-such-bucket-for-flow\\" does not exist at ${s3Endpoint()}`);
    });
  });
});

describe('concurrent completeness checks', () => {
  let server: RunningS3Server;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    server = await startS3Server(['many']);
    for (const [name, value] of Object.entries({
      AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey,
    })) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await server?.close();
  });

  /** One object per folder: too few per folder to list, so each check is a HEAD. */
  class Check extends Task<{ i: number }> {
    static override params = { i: param.int() };
    override output() {
      return new S3Target(`s3://many/objects/${this.params.i}/out.txt`, taskFs);
    }
    async run() {}
  }

  /** Many objects in one folder. */
  class Sibling extends Task<{ i: number }> {
    static override params = { i: param.int() };
    override output() {
      return new S3Target(`s3://many/siblings/${this.params.i}.txt`, taskFs);
    }
    async run() {}
  }

  /** Plans 300 checks at the scheduler's default bound (64) and returns how many new connections they opened. */
  async function connectionsFor(clientUnderTest: S3Client): Promise<number> {
    taskFs = new S3Fs({ client: clientUnderTest });
    const before = server.connections();
    const tasks: AnyTask[] = Array.from({ length: 300 }, (_, i) => new Check({ i }));
    const plan = await planRun(TaskGraph.build(tasks), 64);
    expect(plan.toRun).toHaveLength(300);
    clientUnderTest.destroy();
    return server.connections() - before;
  }

  it("the default client opens as many sockets as the scheduler's 64 concurrent checks (the SDK's own default stops at 50)", async () => {
    const env = { AWS_ENDPOINT_URL: server.endpoint, DAGWRIGHT_S3_FORCE_PATH_STYLE: '1' };
    const ours = await connectionsFor(createS3Client({ env }));
    const sdkDefault = await connectionsFor(createS3Client({ env, maxSockets: 50 }));
    expect(ours).toBeGreaterThanOrEqual(60);
    expect(ours).toBeLessThanOrEqual(64 + 1);
    expect(sdkDefault).toBeLessThanOrEqual(50);
  });

  it('answers many checks in one folder with a listing, not a HEAD each, and gets every answer right', async () => {
    const client = createS3Client({ env: { AWS_ENDPOINT_URL: server.endpoint, DAGWRIGHT_S3_FORCE_PATH_STYLE: '1' } });
    for (let i = 0; i < 300; i += 2) {
      await client.send(new PutObjectCommand({ Bucket: 'many', Key: `siblings/${i}.txt`, Body: 'x' }));
    }
    taskFs = new S3Fs({ client });
    const before = server.requests();
    const plan = await planRun(TaskGraph.build(Array.from({ length: 300 }, (_, i) => new Sibling({ i }))), 64);
    const after = server.requests();
    expect(plan.complete.size).toBe(150);
    expect([...plan.toRun].map((id) => Number(/Sibling_(\d+)_/.exec(id)![1]) % 2)).toEqual(Array(150).fill(1));
    expect(after.HEAD ?? 0).toBe(before.HEAD ?? 0);
    expect((after.GET ?? 0) - (before.GET ?? 0)).toBeLessThanOrEqual(5);
    // An object written after the listing is seen at once: absence is never remembered.
    await taskFs.write('s3://many/siblings/1.txt', 'now');
    expect(await new Sibling({ i: 1 }).complete()).toBe(true);
    client.destroy();
  });
});
