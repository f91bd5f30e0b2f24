/**
 * The operating loop on an `s3://` store (the suite's s3rver), end to end
 * through real processes: `dagwright serve` answers requests and logs them
 * to the bucket (flushed on SIGTERM: every answered request is logged),
 * `flows/monitor.ts` checks the logged window for drift and writes its
 * report and latest.json there, and `dagwright ui` shows the registry, the
 * serving page (the monitor's latest decision), the logged predictions to
 * label, and the monitor's run, all read from the bucket.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPredictionLog } from '../tasks/serving';
import { fileAt } from '../tasks/store';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { type FlowResult, runFlowProcess, startFlow } from './helpers/flow-process';
import { freshBucket, s3FlowEnv, s3TestClient } from './helpers/s3';

const MODEL = 'mnist-digits';
let store: string;
let stateDir: string;
let env: NodeJS.ProcessEnv;
const running: ChildProcess[] = [];

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'dagwright-s3-loop-state-'));
  env = { ...s3FlowEnv(stateDir), AWS_REGION: 'us-east-1' };
  // This process registers the model and reads results through the shared S3 client, made from the environment on first use.
  Object.assign(process.env, env);
  store = `s3://${await freshBucket(s3TestClient(), 'loop')}/ops`;
  await registerSeededModel(store, MODEL, 17, 'champion');
}, 120_000);

afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(stateDir, { recursive: true, force: true });
});

/** Starts a long-running `dagwright` command; resolves with what its output said once `ready` matches. */
async function startCommand(args: string[], ready: RegExp): Promise<{ match: RegExpExecArray; child: ChildProcess; done: Promise<FlowResult> }> {
  const { child, done } = startFlow('app/cli/main.ts', args, env);
  running.push(child);
  let output = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const look = (d: Buffer) => {
      output += d;
      const found = ready.exec(output);
      if (found) resolve(found);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.on('exit', (code) => reject(new Error(`dagwright ${args[0]} exited (${code}) before it was ready: ${output}`)));
  });
  return { match, child, done };
}

describe('serve, monitor and ui on an s3:// store', () => {
  it('serves and logs to the bucket, the monitor reports from it, the UI shows it all', async () => {
    // Serve: 60 requests of 2 images each, then SIGTERM (the open log chunk is flushed).
    const server = await startCommand(['serve', '--store', store, '--port', '0', '--log-chunk-records', '50'], /"url":"(http:\/\/127\.0\.0\.1:\d+)".*serving/);
    const url = server.match[1];
    for (let i = 0; i < 60; i++) {
      const reply = await call(`${url}/v2/models/${MODEL}/infer`, { body: uint8Request(testImages(2, 500 + i), 'flat', `s3-${i}`) });
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    }
    server.child.kill('SIGTERM');
    const served = await server.done;
    expect(served.code, served.stderr.slice(-2000)).toBe(0);
    const logged = await readPredictionLog(store, MODEL);
    expect(logged.filter((r) => r.requestId.startsWith('s3-'))).toHaveLength(120);

    // Monitor: the newest 100 records against a reference of MNIST test digits; no retraining.
    const monitor = await runFlowProcess(
      'flows/monitor.ts',
      ['--store', store, '--last', '100', '--reference-source', 'mnist-test', '--reference-size', '200', '--permutations', '20', '--retrain', 'false', '--executor', 'inprocess'],
      env,
    );
    expect(monitor.code, monitor.stderr.slice(-3000)).toBe(0);
    const latest = await fileAt(store, 'monitoring', MODEL, 'latest.json').readJson<{ version: number; drift: boolean }>();
    expect(latest.version).toBe(1);
    expect(typeof latest.drift).toBe('boolean');
    const runId = monitor.logs.find((l) => typeof l.runId === 'string')!.runId as string;

    // UI: every page reads the bucket.
    const ui = await startCommand(['ui', '--store', store, '--port', '0', '--read-only'], /open (http:\/\/127\.0\.0\.1:\d+)/);
    const base = ui.match[1];
    const page = async (path: string) => {
      const response = await fetch(`${base}${path}`);
      const text = await response.text();
      expect(response.status, `${path}: ${text.slice(0, 500)}`).toBe(200);
      return text;
    };
    expect(await page(`/registry/${MODEL}`)).toContain('champion');
    const serving = await page('/serving');
    expect(serving).toContain(MODEL);
    // The monitor's decision, read from latest.json in the bucket.
    expect(serving).toContain('id="drift-latest"');
    expect(serving).toMatch(latest.drift ? /id="drift-decision"><span class="status status-failed">drift</ : /id="drift-decision"><span class="status status-ran">no drift</);
    expect(await page('/labelling')).toMatch(/s3-\d+|prediction/i);
    expect(await page('/runs')).toContain(runId);
    ui.child.kill('SIGTERM');
    expect((await ui.done).code).toBe(0);
  }, 600_000);
});
