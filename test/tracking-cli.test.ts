import { parseStore } from '../src/store/store';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../app/cli/main';
import { RunHistory } from '../src/history/run-history';
import { readRunTracking } from '../src/tracking/read-tracking';
import { readTaskLog } from '../src/tracking/task-logs';
import { runFlowProcess, startFlow } from './helpers/flow-process';

let store: string;
const runIds: string[] = [];

async function dagwright(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('tracking through real flow runs, and dagwright runs compare / search', () => {
  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'dagwright-tracking-cli-'));
    for (const lr of ['0.1', '0.01']) {
      const result = await runFlowProcess('test/fixtures/ui-flow.ts', ['--store', store, '--executor', 'inprocess', '--lr', lr]);
      expect(result.code).toBe(0);
      runIds.push(result.logs.find((l) => typeof l.runId === 'string')!.runId as string);
    }
  }, 120_000);
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it('keeps tracking, logs and the graph beside the run records, not inside _runs/', async () => {
    expect(readdirSync(join(store, '_runs')).sort()).toEqual(runIds.map((id) => `${id}.json`).sort());
    expect(readdirSync(join(store, '_run-data', runIds[0])).sort()).toEqual(['graph.json', 'logs', 'tracking']);
    expect(await RunHistory.forStore(parseStore(store)).runIds()).toEqual([...runIds].sort().reverse());
  });

  it('compares runs side by side and marks what differs', async () => {
    const { code, out } = await dagwright('runs', 'compare', runIds[0], runIds[1], '--store', store);
    expect(code).toBe(0);
    const line = (key: string) => out.split('\n').find((l) => l.trim().replace(/^\* /, '').startsWith(`${key} `)) ?? '';
    expect(line('lr')).toMatch(/^\* lr\s+0\.1\s+0\.01$/);
    expect(line('epochs')).toMatch(/^ {2}epochs\s+3\s+3$/);
    expect(line('test_accuracy')).toMatch(/^\* test_accuracy\s+0\.97\s+0\.988$/);
    const json = JSON.parse((await dagwright('runs', 'compare', runIds[0], runIds[1], '--store', store, '--json')).out) as { runId: string; metrics: Record<string, number> }[];
    expect(json.map((r) => [r.runId, r.metrics.test_accuracy])).toEqual([[runIds[0], 0.97], [runIds[1], 0.988]]);
  });

  it('searches runs with an MLflow filter and orders them', async () => {
    const hit = await dagwright('runs', 'search', 'metrics.test_accuracy > 0.98 and params.epochs = 3', '--store', store);
    expect(hit.code).toBe(0);
    expect(hit.out).toContain(runIds[1]);
    expect(hit.out).not.toContain(runIds[0]);
    const all = await dagwright('runs', 'search', "attributes.status = 'succeeded'", '--order-by', 'metrics.test_accuracy ASC', '--store', store);
    expect(all.out.indexOf(runIds[0])).toBeLessThan(all.out.indexOf(runIds[1]));
    expect(all.out.indexOf(runIds[0])).toBeGreaterThan(0);
    expect((await dagwright('runs', 'search', 'metrics.test_accuracy > 0.999', '--store', store)).out).toBe('no run matches\n');
  });

  it('exits 2 with a message for a bad filter or an unknown run', async () => {
    const bad = await dagwright('runs', 'search', 'metrics.test_accuracy >> 1', '--store', store);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/search filter: expected a value .* at character \d+/);
    expect(bad.err).not.toMatch(/\n\s+at /);
    const missing = await dagwright('runs', 'compare', runIds[0], '20200101T000000Z-000000', '--store', store);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no run 20200101T000000Z-000000');
    expect((await dagwright('runs', 'compare', runIds[0], '--store', store)).code).toBe(2);
  });

  it('a killed run keeps what it tracked and logged up to its last flush', async () => {
    const killedStore = mkdtempSync(join(tmpdir(), 'dagwright-tracking-kill-'));
    const flow = startFlow('test/fixtures/ui-flow.ts', ['--store', killedStore, '--executor', 'inprocess', '--lr', '0.3', '--epochs', '8'], { UI_TEST_SLOW_MS: '8000' });
    try {
      let runId: string | undefined;
      let seen = 0;
      for (let i = 0; i < 300 && seen < 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
        runId ??= (await RunHistory.forStore(parseStore(killedStore)).runIds())[0];
        if (runId) seen = (await readRunTracking(parseStore(killedStore), runId)).attempts.flatMap((a) => a.metrics).filter((p) => p.key === 'loss').length;
      }
      expect(seen).toBeGreaterThanOrEqual(3);
      flow.child.kill('SIGKILL');
      await flow.done;
      const tracked = await readRunTracking(parseStore(killedStore), runId!);
      const steps = tracked.attempts.flatMap((a) => a.metrics).filter((p) => p.key === 'loss').map((p) => p.step);
      expect(steps.length).toBeGreaterThanOrEqual(seen);
      expect(steps.length).toBeLessThan(8);
      expect(steps).toEqual(steps.map((_, i) => i + 1));
      const train = tracked.attempts.find((a) => a.taskId.startsWith('TrainToy_'))!;
      expect(await readTaskLog(parseStore(killedStore), runId!, train.taskId)).toContain('epoch 2/8');
    } finally {
      flow.child.kill('SIGKILL');
      rmSync(killedStore, { recursive: true, force: true });
    }
  }, 60_000);
});
