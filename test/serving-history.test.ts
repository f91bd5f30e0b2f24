/**
 * The serving history in the store: per-interval records (requests, statuses,
 * latency, predicted classes, batch sizes) and start/swap/stop events, kept
 * across a restart and never torn by a SIGKILL. A real server on loopback,
 * real HTTP; the minute is shortened for the test.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { servingHistoryCommand } from '../app/cli/serving';
import { ModelRegistry } from '../tasks/registry/registry';
import { serveModel } from '../tasks/serving';
import { readServingHistory } from '../tasks/serving/serving-history';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { until } from './helpers/cron';
import { startFlow } from './helpers/flow-process';

let store: string;
const logger = createLogger({ level: 'silent' });
const infer = (url: string, count: number) => call(`${url}/v2/models/mnist-digits/infer`, { body: uint8Request(testImages(count, count)) });

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-serving-history-'));
  await registerSeededModel(store, 'mnist-digits', 1, 'champion');
  await registerSeededModel(store, 'mnist-digits', 2);
}, 120_000);
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

describe('serving history', () => {
  it('records requests, errors by status, classes and batch sizes, and the start, swap and stop events', async () => {
    const server = await serveModel({ store, port: 0, logger, servingHistory: { intervalMs: 100 } });
    await infer(server.url, 3);
    await infer(server.url, 5);
    expect((await call(`${server.url}/v2/models/mnist-digits/infer`, { body: { inputs: [] } })).status).toBe(400);
    await new ModelRegistry(store, 'mnist-digits').setAlias('champion', 2, 'history test');
    await until('version 2 serving', () => server.version === 2, 30_000);
    await infer(server.url, 2);
    await server.stop();
    const { minutes, events } = await readServingHistory(store, 'mnist-digits');
    expect(events.map((e) => [e.kind, e.version])).toEqual([['start', 1], ['swap', 2], ['stop', 2]]);
    expect(events[1].why).toContain('from version 1 to 2');
    const sum = (pick: (m: (typeof minutes)[number]) => Record<string, number>, key?: string) =>
      minutes.reduce((a, m) => a + Object.entries(pick(m)).filter(([k]) => key === undefined || k === key).reduce((b, [, v]) => b + v, 0), 0);
    expect(sum((m) => m.statuses, '200')).toBe(3);
    expect(sum((m) => m.statuses, '400')).toBe(1);
    expect(sum((m) => m.predictedClasses)).toBe(10);
    expect(sum((m) => m.latency, '+Inf')).toBe(4);
    expect(minutes.some((m) => m.version === 2)).toBe(true);
    let out = '';
    expect(await servingHistoryCommand(['--store', store], { out: (t) => void (out += t) })).toBe(0);
    expect(out).toMatch(/swap\s+v2/);
  });

  it('keeps the history across a restart', async () => {
    const before = (await readServingHistory(store, 'mnist-digits')).events.length;
    const server = await serveModel({ store, port: 0, logger, servingHistory: { intervalMs: 100 } });
    await infer(server.url, 1);
    await server.stop();
    const { events } = await readServingHistory(store, 'mnist-digits');
    expect(events.length).toBe(before + 2);
    expect(new Set(events.map((e) => e.instance)).size).toBe(2);
  });

  it('a SIGKILLed server leaves whole records only', async () => {
    const killed = await mkdtemp(join(tmpdir(), 'dagwright-serving-history-kill-'));
    try {
      await registerSeededModel(killed, 'mnist-digits', 1, 'champion');
      const { child, done } = startFlow('test/fixtures/serve-history-server.ts', [killed]);
      await new Promise<void>((resolve, reject) => {
        let stdout = '';
        child.stdout!.on('data', (d) => {
          stdout += d;
          if (stdout.includes('written')) resolve();
        });
        child.on('exit', () => reject(new Error(`server exited early: ${stdout}`)));
      });
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      const dir = join(killed, 'serving', 'mnist-digits', 'history');
      for (const hour of await readdir(dir)) {
        for (const name of await readdir(join(dir, hour))) {
          if (!name.endsWith('.json')) continue;
          expect(() => JSON.parse(readFileSync(join(dir, hour, name), 'utf8'))).not.toThrow();
        }
      }
      const { minutes } = await readServingHistory(killed, 'mnist-digits');
      expect(minutes.reduce((a, m) => a + m.requests, 0)).toBeGreaterThan(0);
    } finally {
      await rm(killed, { recursive: true, force: true });
    }
  }, 120_000);
});
