/**
 * `dagwright serve` against what breaks servers, as a separate process: a
 * body nested 50,000 deep (a 400, and the server keeps serving), and SIGTERM
 * under load from kept-alive connections with requests in flight (every
 * request the server received is answered, with 200 or 503 and
 * `Connection: close`; none is reset; every answered prediction is in the
 * log; exit 0), including a drain that outlasts `--drain-timeout-ms`.
 */
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPredictionLog } from '../tasks/serving';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { type FlowResult, startFlow } from './helpers/flow-process';

let store: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'safety-serve-'));
  await registerSeededModel(store, 'mnist-digits', 41, 'champion');
});

afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(store, { recursive: true, force: true });
});

async function startServer(args: string[]): Promise<{ url: string; port: number; child: ChildProcess; done: Promise<FlowResult> }> {
  const { child, done } = startFlow('app/cli/main.ts', ['serve', '--store', store, '--port', '0', ...args]);
  running.push(child);
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const found = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(stderr)?.[1];
      if (found && /serving \\"mnist-digits\\"/.test(stderr)) resolve(Number(found));
    });
    child.on('exit', (code) => reject(new Error(`dagwright serve exited (${code}) before serving: ${stderr}`)));
  });
  return { url: `http://127.0.0.1:${port}`, port, child, done };
}

/** What became of one request: an answer, or the error its connection ended with. */
interface Outcome {
  id: string;
  status?: number;
  connection?: string;
  error?: string;
}

/** One POST over `agent` (kept-alive connections); never rejects. */
function post(port: number, agent: Agent, id: string, body: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, agent, method: 'POST', path: '/v2/models/mnist-digits/infer', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ id, status: res.statusCode, connection: String(res.headers.connection ?? '') }));
      res.on('error', (err) => resolve({ id, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    });
    req.on('error', (err) => resolve({ id, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.end(body);
  });
}

const body = (id: string, seed: number) => JSON.stringify(uint8Request(testImages(1, seed), 'flat', id));

describe('dagwright serve against hostile input and signals', () => {
  it('a body whose data is nested 50,000 deep (or 40): 400 naming the limit; the server keeps serving', async () => {
    const { url, child, done } = await startServer(['--max-batch-size', '1']);
    for (const depth of [40, 50_000]) {
      const nested = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
      for (const raw of [
        `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":${nested}}]}`,
        `{"instances":${nested}}`,
        `{"inputs":[{"name":"image","datatype":"UINT8","shape":${nested},"data":[1]}]}`,
      ]) {
        const path = raw.startsWith('{"instances"') ? '/invocations' : '/v2/models/mnist-digits/infer';
        const reply = await call(`${url}${path}`, { raw });
        expect(reply.status, JSON.stringify(reply.body)).toBe(400);
        // The error in the route's dialect: {"error"} on V2 routes, {"error_code", "message"} on MLflow's.
        expect(reply.body.error ?? reply.body.message).toMatch(/nests lists or objects more than 32 deep/);
      }
    }
    expect((await call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(1, 3), 'image', 'after') })).status).toBe(200);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/Maximum call stack|request failed/);
  });

  it('SIGTERM under load: every request received is answered (200, or 503 with Connection: close), none reset, every answer logged, exit 0', async () => {
    const { port, child, done } = await startServer(['--max-batch-size', '16', '--max-wait-ms', '30', '--log-chunk-records', '50']);
    const outcomes: Outcome[] = [];
    let stopped = false;
    // Twelve clients, each on its own kept-alive connection, sending the next request as soon as the last is answered.
    const clients = Array.from({ length: 48 }, async (_, c) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let n = 0; ; n++) {
          const id = `load-${c}-${n}`;
          const outcome = await post(port, agent, id, body(id, c * 1000 + n));
          outcomes.push(outcome);
          // A refused connection means the server stopped listening: this request never reached it.
          if (outcome.error || (stopped && outcome.connection === 'close')) break;
        }
      } finally {
        agent.destroy();
      }
    });
    // Idle kept-alive connections, quiet when the signal comes.
    const idle = Array.from({ length: 4 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    for (const [i, agent] of idle.entries()) outcomes.push(await post(port, agent, `idle-${i}`, body(`idle-${i}`, 7000 + i)));
    await new Promise((r) => setTimeout(r, 1500));
    stopped = true;
    child.kill('SIGTERM');
    await Promise.all(clients);
    for (const agent of idle) agent.destroy();
    const result = await done;
    expect(result.code, result.stderr).toBe(0);

    const failures = outcomes.filter((o) => o.error !== undefined && o.error !== 'ECONNREFUSED');
    expect(failures, 'requests reset or left unanswered').toEqual([]);
    const answered = outcomes.filter((o) => o.status !== undefined);
    expect(answered.length).toBeGreaterThan(50);
    for (const o of answered) {
      expect([200, 503]).toContain(o.status);
      if (o.status === 503) expect(o.connection).toBe('close');
    }
    const logged = new Set((await readPredictionLog(store, 'mnist-digits')).map((r) => r.requestId));
    const lost = answered.filter((o) => o.status === 200 && !logged.has(o.id)).map((o) => o.id);
    expect(lost, 'answered but not in the prediction log').toEqual([]);
  });

  it('a request still running at --drain-timeout-ms is answered 503 with Connection: close, then the server exits 0', async () => {
    const { port, child, done } = await startServer(['--drain-timeout-ms', '400']);
    // A client that sent its headers and part of its body, then stalled.
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('POST /v2/models/mnist-digits/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"inputs":');
    await new Promise((r) => setTimeout(r, 200));
    const signalled = Date.now();
    child.kill('SIGTERM');
    await closed;
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(350);
    expect(answer).toMatch(/^HTTP\/1\.1 503/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('its drain timeout passed');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/1 request\(s\) still running after the drain timeout of 400 ms were answered 503/);
  });
});
