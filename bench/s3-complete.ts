/**
 * Completeness checks of 1,000 S3 targets (one HEAD each) against s3rver on
 * loopback: with the scheduler's bounded concurrency (`planRun`, 64 at a
 * time, as `run()` does) and one at a time. s3rver runs in a child process
 * so it does not share this process's event loop; its CPU time is printed
 * to show whether the server is the bottleneck. The client is the default
 * one, built from the environment (AWS_ENDPOINT_URL, path-style switch). The
 * last line is JSON.
 *
 *   npm run bench:s3
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import pLimit from 'p-limit';
import { type AnyTask, createS3Client, param, S3FileSystem, S3Target, Task, TaskGraph } from '../src';
import { planRun } from '../src/plan';
import { s3rverCredentials, startS3Server } from '../test/helpers/s3-server';

const objects = 1_000;
const concurrency = 64; // run()'s default checkConcurrency
const bucket = 'bench';

/** Child mode: serve S3 until stdin closes; answer "cpu" with this process's CPU seconds. */
async function serve(): Promise<void> {
  const server = await startS3Server([bucket]);
  process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint })}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ cpu_s: (user + system) / 1e6 })}\n`);
    }
  });
  lines.on('close', () => void server.close().then(() => process.exit(0)));
}

interface ServerProcess {
  endpoint: string;
  cpuSeconds(): Promise<number>;
  stop(): void;
}

async function startServerProcess(): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', __filename, '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await replies.next()).value as string) as Record<string, unknown>;
  const { endpoint } = (await next()) as { endpoint: string };
  return {
    endpoint,
    cpuSeconds: async () => {
      child.stdin!.write('cpu\n');
      return (await next()).cpu_s as number;
    },
    stop: () => child.stdin!.end(),
  };
}

let fs: S3FileSystem;

class Check extends Task<{ i: number }> {
  static override params = { i: param.int() };
  override output() {
    return new S3Target(`s3://${bucket}/objects/${String(this.params.i).padStart(4, '0')}.txt`, fs);
  }
  async run() {}
}

const tasks = (): AnyTask[] => Array.from({ length: objects }, (_, i) => new Check({ i }));

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await fn();
  return [(performance.now() - started) / 1000, result];
}

async function main(): Promise<void> {
  const server = await startServerProcess();
  try {
    process.env.AWS_ACCESS_KEY_ID = s3rverCredentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3rverCredentials.secretAccessKey;
    const client = createS3Client({ env: { AWS_ENDPOINT_URL: server.endpoint, DAGWRIGHT_S3_FORCE_PATH_STYLE: '1' } });
    fs = new S3FileSystem({ client });

    const limit = pLimit(concurrency);
    const [putSeconds] = await timed(() =>
      Promise.all(
        Array.from({ length: objects }, (_, i) =>
          limit(() => client.send(new PutObjectCommand({ Bucket: bucket, Key: `objects/${String(i).padStart(4, '0')}.txt`, Body: `object ${i}\n` }))),
        ),
      ),
    );
    console.log(`created ${objects} objects in ${putSeconds.toFixed(3)} s; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on this machine`);

    // Warm-up (untimed): credentials resolved, keep-alive sockets open, code paths compiled.
    await planRun(TaskGraph.build(tasks()), concurrency);

    const cpuBefore = await server.cpuSeconds();
    const [parallel, plan] = await timed(() => planRun(TaskGraph.build(tasks()), concurrency));
    const serverCpuParallel = (await server.cpuSeconds()) - cpuBefore;
    if (plan.complete.size !== objects) throw new Error(`expected ${objects} complete tasks, got ${plan.complete.size}`);

    const cpuBeforeSerial = await server.cpuSeconds();
    const [serial, found] = await timed(async () => {
      let complete = 0;
      for (const task of tasks()) if (await task.complete()) complete++;
      return complete;
    });
    const serverCpuSerial = (await server.cpuSeconds()) - cpuBeforeSerial;
    if (found !== objects) throw new Error(`expected ${objects} complete tasks, got ${found}`);

    const ratio = serial / parallel;
    console.log(`parallel (planRun, ${concurrency} at a time): ${parallel.toFixed(3)} s  ${((parallel * 1000) / objects).toFixed(3)} ms/check`);
    console.log(`  s3rver CPU during it: ${serverCpuParallel.toFixed(3)} s (${((serverCpuParallel / parallel) * 100).toFixed(0)}% of one core)`);
    console.log(`serial (one at a time):          ${serial.toFixed(3)} s  ${((serial * 1000) / objects).toFixed(3)} ms/check`);
    console.log(`  s3rver CPU during it: ${serverCpuSerial.toFixed(3)} s (${((serverCpuSerial / serial) * 100).toFixed(0)}% of one core)`);
    console.log(`ratio serial/parallel: ${ratio.toFixed(2)}x`);
    client.destroy();
    console.log(JSON.stringify({ bench: 's3-complete', parallel_s: +parallel.toFixed(3), serial_s: +serial.toFixed(3), ratio: +ratio.toFixed(2) }));
  } finally {
    server.stop();
  }
}

if (process.argv[2] === '--serve') {
  void serve();
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
