/**
 * Completeness checks of 1,000 S3 targets in one folder against s3rver on
 * loopback: the way the scheduler does them (`planRun`, 64 at a time, as
 * `run()` does; checks arriving together in one folder are answered by a
 * listing) and one at a time (a HEAD each, as Luigi does). s3rver runs in a child process so
 * it does not share this process's event loop; both processes' CPU time is
 * printed, to show whether the server is the bottleneck. The same comparison
 * is then repeated with 5 ms added to every response, as the round trip to a
 * remote S3 would add. The client is the default one, built from the
 * environment (AWS_ENDPOINT_URL, the path-style switch). The last line is
 * JSON, for the loopback figures.
 *
 *   npm run bench:s3
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import pLimit from 'p-limit';
import { type AnyTask, param, S3Target, Task } from '../src';
import { createS3Client, S3FileSystem } from '../src/public/store';
import { TaskGraph } from '../src/public/runtime';
import { planRun } from '../src/plan';
import { s3rverCredentials, startS3Server } from '../test/helpers/s3-server';

const objects = 1_000;
const concurrency = 64; // run()'s default checkConcurrency
const bucket = 'bench';

/** Child mode: serve S3 until stdin closes; "cpu" answers with this process's CPU seconds, "latency N" delays responses by N ms. */
async function serve(): Promise<void> {
  const server = await startS3Server([bucket]);
  process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint })}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [command, arg] = line.split(' ');
    if (command === 'latency') server.setLatency(Number(arg));
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpu_s: (user + system) / 1e6 })}\n`);
  });
  lines.on('close', () => void server.close().then(() => process.exit(0)));
}

interface ServerProcess {
  endpoint: string;
  cpuSeconds(): Promise<number>;
  setLatency(ms: number): Promise<void>;
  stop(): void;
}

async function startServerProcess(): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', __filename, '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await replies.next()).value as string) as Record<string, unknown>;
  const ask = async (line: string) => {
    child.stdin!.write(`${line}\n`);
    return (await next()).cpu_s as number;
  };
  const { endpoint } = (await next()) as { endpoint: string };
  return {
    endpoint,
    cpuSeconds: () => ask('cpu'),
    setLatency: async (ms) => void (await ask(`latency ${ms}`)),
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

/** Added to every response in the second measurement, as a round trip to a remote S3 would be. */
const simulatedRttMs = 5;

const tasks = (): AnyTask[] => Array.from({ length: objects }, (_, i) => new Check({ i }));

const cpuSeconds = ({ user, system }: NodeJS.CpuUsage) => (user + system) / 1e6;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await fn();
  return [(performance.now() - started) / 1000, result];
}

/** Times the 1,000 checks through `planRun` (bounded concurrency), then one at a time, with both processes' CPU time. */
async function compare(server: ServerProcess, client: S3Client, label: string): Promise<{ parallel: number; serial: number }> {
  fs = new S3FileSystem({ client }); // fresh: nothing remembered from an earlier listing
  const serverBefore = await server.cpuSeconds();
  const clientBefore = process.cpuUsage();
  const [parallel, plan] = await timed(() => planRun(TaskGraph.build(tasks()), concurrency));
  const clientParallel = cpuSeconds(process.cpuUsage(clientBefore));
  const serverParallel = (await server.cpuSeconds()) - serverBefore;
  if (plan.complete.size !== objects) throw new Error(`expected ${objects} complete tasks, got ${plan.complete.size}`);

  fs = new S3FileSystem({ client });
  const serverBeforeSerial = await server.cpuSeconds();
  const clientBeforeSerial = process.cpuUsage();
  const [serial, found] = await timed(async () => {
    let complete = 0;
    for (const task of tasks()) if (await task.complete()) complete++;
    return complete;
  });
  const clientSerial = cpuSeconds(process.cpuUsage(clientBeforeSerial));
  const serverSerial = (await server.cpuSeconds()) - serverBeforeSerial;
  if (found !== objects) throw new Error(`expected ${objects} complete tasks, got ${found}`);

  const row = (name: string, seconds: number, client: number, server: number) =>
    `  ${name.padEnd(34)} ${seconds.toFixed(3)} s  ${((seconds * 1000) / objects).toFixed(3)} ms/check  CPU: s3rver ${server.toFixed(3)} s, client ${client.toFixed(3)} s`;
  console.log(`${label}:`);
  console.log(row(`parallel (planRun, ${concurrency} at a time)`, parallel, clientParallel, serverParallel));
  console.log(row('serial (one at a time)', serial, clientSerial, serverSerial));
  return { parallel, serial };
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

    const loopback = await compare(server, client, 'loopback');
    await server.setLatency(simulatedRttMs);
    const distant = await compare(server, client, `${simulatedRttMs} ms added per request`);
    console.log(
      `with ${simulatedRttMs} ms of simulated round trip: parallel ${distant.parallel.toFixed(3)} s, serial ${distant.serial.toFixed(3)} s, ` +
        `ratio ${(distant.serial / distant.parallel).toFixed(2)}x`,
    );
    const { parallel, serial } = loopback;
    const ratio = serial / parallel;
    console.log(`loopback: parallel ${parallel.toFixed(3)} s, serial ${serial.toFixed(3)} s, ratio serial/parallel ${ratio.toFixed(2)}x`);
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
