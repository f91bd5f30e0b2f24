/**
 * Drift results are bound to the version they checked: once the server
 * swaps to another version, the old version's verdict leaves /metrics
 * (marked stale), and a check of the version now serving shows again.
 * A real server on loopback, real models, the store's latest.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { ModelRegistry } from '../tasks/registry/registry';
import { type ModelServer, serveModel } from '../tasks/serving';
import { call } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';
import { until } from './helpers/cron';

let store: string;
let server: ModelServer;

async function writeSummary(version: number, drift: boolean): Promise<void> {
  await mkdir(join(store, 'monitoring', 'mnist-digits'), { recursive: true });
  const summary = { time: new Date().toISOString(), model: 'mnist-digits', version, drift, window: { last: 100 }, tests: [{ name: 'entropy-ks', statistic: 0.4, pValue: 0.001, threshold: 0.01, drift }], report: 'file:///r.json', html: 'file:///r.html' };
  await writeFile(join(store, 'monitoring', 'mnist-digits', 'latest.json'), JSON.stringify(summary));
}
const metrics = async () => (await call(`${server.url}/metrics`)).body as string;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-stale-'));
  await registerSeededModel(store, 'mnist-digits', 1, 'champion');
  await registerSeededModel(store, 'mnist-digits', 2);
  server = await serveModel({ store, port: 0, logger: createLogger({ level: 'silent' }) });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await rm(store, { recursive: true, force: true });
});

describe('drift results bound to the serving version', () => {
  it("shows the serving version's verdict, and drops it once another version serves", async () => {
    await writeSummary(1, true);
    const before = await metrics();
    expect(before).toContain('dagwright_drift_detected{model="mnist-digits",version="1"} 1');
    expect(before).toContain('dagwright_drift_report_stale 0');

    await new ModelRegistry(store, 'mnist-digits').setAlias('champion', 2, 'stale test');
    await until('version 2 serving', () => server.version === 2, 30_000);
    const after = await metrics();
    expect(after).toContain('dagwright_serve_model_info{model="mnist-digits",version="2",alias="champion"} 1');
    expect(after).not.toMatch(/^dagwright_drift_detected\{/m);
    expect(after).not.toMatch(/^dagwright_drift_test_detected\{/m);
    expect(after).toContain('dagwright_drift_report_stale 1');

    await writeSummary(2, false);
    const fresh = await metrics();
    expect(fresh).toContain('dagwright_drift_detected{model="mnist-digits",version="2"} 0');
    expect(fresh).toContain('dagwright_drift_report_stale 0');
  });
});
