/**
 * `npm run bench:ui`: the web UI at scale. A store with 100,000 run records
 * (BENCH_UI_RUNS to change), each with tracked params and a `test_accuracy`
 * metric, and one run of 5,000 tasks (50 families of 100, each task
 * requiring its twin in the family before), then:
 *   - the runs list's first page, cold (first request), warm, and with the
 *     store listed again, against a reference: reading the newest 50 records
 *     straight from disk (`ratio`: listed again / reference);
 *   - the first page sorted by a metric column (metrics.test_accuracy), warm;
 *   - the operations page over 30 days of one-minute serving records (43,200
 *     minutes in 720 hourly files, a swap, hourly accuracy series);
 *   - the 5,000-task run page: server time, and in chromium the time to draw
 *     its DAG (grouped by family) and the whole page.
 * Last line: one JSON object. Targets (issue 24): first page sorted by a
 * metric < 300 ms warm, the 5,000-task run page < 1 s, the operations page
 * over 30 days < 500 ms.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { param, parseStore, Task } from '../src';
import { TaskGraph } from '../src/public/runtime';
import type { RunRecord, TaskHistory } from '../src/history/run-record';
import { writeRunGraph } from '../src/tracking/run-graph';
import { runDataFolder, type TrackingSegment } from '../src/tracking/tracking-files';
import { UiServer } from '../app/ui/ui-server';
import { writeServingHistory } from '../test/fixtures/serving-history';

const runs = Number(process.env.BENCH_UI_RUNS ?? 100_000);
const families = 50;
const perFamily = 100;

class Step extends Task<{ n: number; f: number }> {
  static override params = { n: param.int(), f: param.int() };
  override requires() {
    return this.params.f === 0 ? [] : [stepOf(this.params.n, this.params.f - 1)];
  }
  async run() {}
}

/** One class per family, so the DAG has 50 families. */
const familyClasses = Array.from({ length: families }, (_, f) => class extends Step {
  static override family = `Family${String(f).padStart(2, '0')}`;
});

function stepOf(n: number, f: number): Step {
  return new familyClasses[f]({ n, f });
}

function record(runId: string, i: number, tasks: TaskHistory[]): RunRecord {
  const started = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
  return {
    format: 'dagwright.run/1', runId, flow: i % 3 === 0 ? 'train' : 'register', params: { epochs: 1 + (i % 5), lr: 0.001 * (1 + (i % 7)) }, store: '/bench',
    host: 'bench', pid: 1, startedAt: started, updatedAt: started, endedAt: started, durationMs: 1000 + i, status: i % 17 === 0 ? 'failed' : 'succeeded', tasks,
  };
}

/** What `ctx.tracking` leaves for one run: one segment with params and a test accuracy. */
function writeTracking(store: string, runId: string, i: number): void {
  const folder = join(store, runDataFolder, runId, 'tracking', 'Train_x_1');
  mkdirSync(folder, { recursive: true });
  const segment: TrackingSegment = {
    format: 'dagwright.tracking/1', runId, taskId: 'Train_x_1', attempt: 1, segment: 0, params: { optimizer: i % 2 ? 'adam' : 'sgd' }, tags: { stage: 'bench' }, artifacts: [],
    metrics: [{ key: 'test_accuracy', value: 0.9 + ((i * 7919) % 1000) / 10_000, step: 0, time: Date.UTC(2026, 0, 1) + i }], updatedAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  };
  writeFileSync(join(folder, '1-0.json'), JSON.stringify(segment));
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const value = await fn();
  return [value, performance.now() - t];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const store = mkdtempSync(join(tmpdir(), 'dagwright-bench-ui-'));
  const dir = join(store, '_runs');
  mkdirSync(dir, { recursive: true });
  const small: TaskHistory[] = [{ id: 'Train_x_1', family: 'Train', status: 'ran', attempts: 1, durationMs: 900 }];
  for (let i = 0; i < runs; i++) {
    const id = `2026${String(1 + Math.floor(i / 1000)).padStart(4, '0')}T${String(i % 1000).padStart(6, '0')}Z-${i.toString(16).padStart(6, '0')}`;
    writeFileSync(join(dir, `${id}.json`), JSON.stringify(record(id, i, small), null, 2));
    writeTracking(store, id, i);
  }
  const roots = Array.from({ length: perFamily }, (_, n) => stepOf(n, families - 1));
  const graph = TaskGraph.build(roots);
  const bigId = '20991231T000000Z-b16b16';
  const t0 = Date.UTC(2026, 0, 1);
  const tasks: TaskHistory[] = graph.order().map((id, k) => ({
    id, family: graph.task(id).family, status: k % 97 === 0 ? 'failed' : 'ran', attempts: 1, durationMs: 500,
    startedAt: new Date(t0 + k * 10).toISOString(), endedAt: new Date(t0 + k * 10 + 500).toISOString(),
  }));
  writeFileSync(join(dir, `${bigId}.json`), JSON.stringify(record(bigId, 0, tasks)));
  await writeRunGraph(parseStore(store), bigId, graph);
  console.log(`store: ${runs + 1} run records, one of ${tasks.length} tasks`);

  const ui = new UiServer({ store, port: 0 });
  await ui.start();
  const chromiumPath = process.env.DAGWRIGHT_CHROMIUM ?? '/usr/bin/chromium';
  try {
    const [, coldMs] = await timed(async () => (await fetch(`${ui.url}/runs`)).text());
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) warm.push((await timed(async () => (await fetch(`${ui.url}/runs?page=${1 + (i % 3)}`)).text()))[1]);
    // The UI lists the store at most once a second: these requests each list it again (the records stay cached).
    const relist: number[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1100));
      relist.push((await timed(async () => (await fetch(`${ui.url}/runs`)).text()))[1]);
    }
    const [, sortedColdMs] = await timed(async () => (await fetch(`${ui.url}/runs?sort=metrics.test_accuracy`)).text());
    const sorted: number[] = [];
    for (let i = 0; i < 10; i++) sorted.push((await timed(async () => (await fetch(`${ui.url}/runs?sort=metrics.test_accuracy${i % 2 ? '&order=asc' : ''}`)).text()))[1]);
    const sortedMs = median(sorted);
    console.log(`runs list sorted by metrics.test_accuracy: first request ${sortedColdMs.toFixed(1)} ms, warm median ${sortedMs.toFixed(1)} ms (target < 300 ms)`);
    const raw: number[] = [];
    for (let i = 0; i < 10; i++) {
      raw.push(
        (await timed(async () => {
          const names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort().reverse().slice(0, 50);
          return names.map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as RunRecord);
        }))[1],
      );
    }
    const listMs = median(warm);
    const rawMs = median(raw);
    const relistMs = median(relist);
    console.log(`runs list, first page: cold ${coldMs.toFixed(1)} ms, warm median ${listMs.toFixed(1)} ms, listing the store again ${relistMs.toFixed(1)} ms; reference (readdir + 50 records) ${rawMs.toFixed(1)} ms`);
    const [, runServerMs] = await timed(async () => (await fetch(`${ui.url}/runs/${bigId}`)).text());
    let dagMs: number | undefined;
    let pageMs: number | undefined;
    if (existsSync(chromiumPath)) {
      const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
      try {
        const page = await browser.newPage();
        const times: [number, number][] = [];
        for (let i = 0; i < 3; i++) {
          const [, total] = await timed(async () => {
            await page.goto(`${ui.url}/runs/${bigId}`);
            await page.waitForSelector('#dag[data-drawn-ms]');
          });
          times.push([Number(await page.getAttribute('#dag', 'data-drawn-ms')), total]);
        }
        dagMs = median(times.map((t) => t[0]));
        pageMs = median(times.map((t) => t[1]));
        console.log(`5,000-task run page: server ${runServerMs.toFixed(0)} ms; in chromium DAG drawn in ${dagMs} ms, page loaded and drawn in ${pageMs.toFixed(0)} ms (median of 3)`);
      } finally {
        await browser.close();
      }
    } else {
      console.log(`no chromium at ${chromiumPath}: the DAG draw time is not measured`);
    }
    writeServingHistory(store, 'mnist-digits', 30 * 24 * 60, 60_000, 15 * 24 * 60);
    const [, opsColdMs] = await timed(async () => (await fetch(`${ui.url}/operations?model=mnist-digits&days=30`)).text());
    const ops: number[] = [];
    for (let i = 0; i < 5; i++) ops.push((await timed(async () => (await fetch(`${ui.url}/operations?model=mnist-digits&days=30`)).text()))[1]);
    const opsMs = median(ops);
    console.log(`operations page, 30 days of one-minute serving records: first ${opsColdMs.toFixed(0)} ms, median ${opsMs.toFixed(0)} ms (target < 500 ms)`);
    console.log(JSON.stringify({
      operations_30d_first_ms: Math.round(opsColdMs), operations_30d_ms: Math.round(opsMs),
      bench: 'ui', runs, list_first_page_cold_ms: Math.round(coldMs), list_first_page_ms: Number(listMs.toFixed(1)), list_relisted_ms: Number(relistMs.toFixed(1)), raw_read_ms: Number(rawMs.toFixed(1)),
      ratio: Number((relistMs / rawMs).toFixed(2)), list_sorted_by_metric_first_ms: Math.round(sortedColdMs), list_sorted_by_metric_ms: Number(sortedMs.toFixed(1)), big_run_tasks: tasks.length, run_page_server_ms: Math.round(runServerMs),
      dag_draw_ms: dagMs ?? null, run_page_browser_ms: pageMs === undefined ? null : Math.round(pageMs),
    }));
  } finally {
    await ui.stop();
    rmSync(store, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
