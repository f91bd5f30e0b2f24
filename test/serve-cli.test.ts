import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPredictionLog } from '../tasks/serving';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { type FlowResult, runFlowProcess, startFlow } from './helpers/flow-process';

let store: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'serve-cli-'));
  await registerSeededModel(store, 'mnist-digits', 31, 'champion');
});

afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(store, { recursive: true, force: true });
});

/** Starts `dagwright serve` in its own process; resolves with its URL once its log matches `ready` (by default: it serves). */
async function startServer(args: string[], env: NodeJS.ProcessEnv = {}, ready = /serving \\"mnist-digits\\"/): Promise<{ url: string; child: ChildProcess; done: Promise<FlowResult> }> {
  const { child, done } = startFlow('app/cli/main.ts', ['serve', '--store', store, ...(args.includes('--port') ? [] : ['--port', '0']), ...args], env);
  running.push(child);
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const port = args.includes('--port') ? args[args.indexOf('--port') + 1] : /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(stderr)?.[1];
      if (port && ready.test(stderr)) resolve(`http://127.0.0.1:${port}`);
    });
    child.on('exit', (code) => reject(new Error(`dagwright serve exited (${code}) before serving: ${stderr}`)));
  });
  return { url, child, done };
}

describe('dagwright serve', () => {
  it('prints its options with --help and refuses bad ones with exit code 2', async () => {
    const help = await runFlowProcess('app/cli/main.ts', ['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--max-batch-size <n>/);
    const port = await runFlowProcess('app/cli/main.ts', ['serve', '--store', store, '--port', 'eighty']);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port got "eighty"; expected a port 0-65535/);
    const both = await runFlowProcess('app/cli/main.ts', ['serve', '--store', store, '--alias', 'x', '--version', '1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--alias and --version exclude each other/);
    const missing = await runFlowProcess('app/cli/main.ts', ['serve', '--store', store, '--model', 'nope', '--port', '0']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/model \\"nope\\" has no alias \\"champion\\"/);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('takes the token from DAGWRIGHT_SERVE_TOKEN; on SIGTERM finishes running requests, flushes the log and exits 0', async () => {
    const { url, child, done } = await startServer(['--max-batch-size', '64', '--max-wait-ms', '400'], { DAGWRIGHT_SERVE_TOKEN: 'from-env' });
    expect((await call(`${url}/v2/models/mnist-digits`)).status).toBe(401);
    const auth = { authorization: 'Bearer from-env' };
    // Five requests wait in the batcher (400 ms) when SIGTERM arrives.
    const inFlight = Array.from({ length: 5 }, (_, i) => call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 50 + i), 'flat', `term-${i}`), headers: auth }));
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGTERM');
    const replies = await Promise.all(inFlight);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/model-server stopped/);
    const records = await readPredictionLog(store, 'mnist-digits');
    expect(records.map((r) => r.requestId).filter((id) => id.startsWith('term-')).sort()).toEqual(['term-0', 'term-1', 'term-2', 'term-3', 'term-4']);
  });

  it('a SIGKILLed server loses at most the open chunk of its prediction log', async () => {
    const { url, child, done } = await startServer(['--model', 'mnist-digits', '--log-chunk-records', '10', '--max-batch-size', '1']);
    const before = (await readPredictionLog(store, 'mnist-digits')).length;
    for (let i = 0; i < 25; i++) {
      expect((await call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 200 + i), 'flat', `kill-${i}`) })).status).toBe(200);
    }
    const deadline = Date.now() + 10_000;
    while ((await readPredictionLog(store, 'mnist-digits')).length < before + 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const killed = (await readPredictionLog(store, 'mnist-digits')).filter((r) => r.requestId.startsWith('kill-'));
    expect(killed.map((r) => r.requestId)).toEqual(Array.from({ length: 20 }, (_, i) => `kill-${i}`));
  });

  it('hands its port to a replacement without a failed request (--wait-for-port, --handover-ms); --ready-file says when each is warmed', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const [oldReady, newReady] = [join(store, 'old.ready'), join(store, 'new.ready')];
    const old = await startServer(['--port', port, '--handover-ms', '10000', '--ready-file', oldReady]);
    expect(JSON.parse(await readFile(oldReady, 'utf8'))).toMatchObject({ version: 1 });
    let running = true;
    const outcomes: string[] = [];
    const client = (async () => {
      for (let i = 0; running; i++) {
        try {
          const reply = await call(`${old.url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 300 + (i % 10))) });
          outcomes.push(String(reply.status));
        } catch (err) {
          outcomes.push(`error: ${(err as Error).cause ?? (err as Error).message}`);
        }
      }
    })();
    const replacement = await startServer(['--port', port, '--wait-for-port', '60000', '--ready-file', newReady], {}, /waiting for port/);
    // Warmed but not listening yet: only its ready file can say so (the port answers for the old server).
    expect(JSON.parse(await readFile(newReady, 'utf8'))).toMatchObject({ version: 1, pid: replacement.child.pid });
    old.child.kill('SIGTERM');
    expect((await old.done).code).toBe(0);
    expect(existsSync(oldReady)).toBe(false);
    await new Promise((r) => setTimeout(r, 500)); // the client now talks to the replacement
    running = false;
    await client;
    expect(outcomes.filter((o) => o !== '200')).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(20);
    expect((await call(`${replacement.url}/v2/health/ready`)).status).toBe(200);
    // The client's later requests were answered by the replacement.
    const served = /dagwright_serve_requests_total\{route="\/v2\/models\/:name\/infer",method="POST",status="200"\} (\d+)/.exec((await call(`${replacement.url}/metrics`)).body);
    expect(Number(served?.[1])).toBeGreaterThan(0);
    replacement.child.kill('SIGTERM');
    expect((await replacement.done).code).toBe(0);
    expect(existsSync(newReady)).toBe(false);
  });

  it('flows/deploy.ts serves in process in the foreground; a second deploy finds it ready and does nothing', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const { child, done } = startFlow('flows/deploy.ts', ['--store', store, '--port', port]);
    running.push(child);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while ((await call(`${url}/v2/models/mnist-digits/versions/1/ready`).catch(() => ({ status: 0 }))).status !== 200) {
      if (Date.now() > deadline) throw new Error('flows/deploy.ts did not serve');
      await new Promise((r) => setTimeout(r, 200));
    }
    const second = await runFlowProcess('flows/deploy.ts', ['--store', store, '--port', port]);
    expect(second.code).toBe(0);
    expect(second.logs.find((l) => l.counts)?.counts).toMatchObject({ ran: 0, complete: 1 });
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });
});
