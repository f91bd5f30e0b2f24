/**
 * The run page in chromium for the shapes issue 24 names: a 6-task chain
 * (its DAG drawn top to bottom, inside a 1280 px window, every node visible,
 * pan and zoom), a run still going (a now-line on the Gantt's time axis),
 * and a hostile task name drawn as text.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { param, parseStore, Task } from '../src';
import { TaskGraph } from '../src/public/runtime';
import type { RunRecord, TaskHistory } from '../src/history/run-record';
import { writeRunGraph } from '../src/tracking/run-graph';
import { UiServer } from '../app/ui/ui-server';
import { type Browser, describeChromium, expectNoSidewaysScroll, launchBrowser, screenshot } from './fixtures/ui-browser';

declare const window: { __xss?: number; innerWidth: number };

class ChainStep extends Task<{ n: number; note: string }> {
  static override family = 'PrepareTheVeryLongNamedDatasetShardForTraining';
  static override params = { n: param.int(), note: param.string() };
  override requires() {
    return this.params.n === 0 ? [] : [new ChainStep({ n: this.params.n - 1, note: this.params.note })];
  }
  async run() {}
}

const xss = '<img src=x onerror=window.__xss=1>';
let store: string;
let ui: UiServer;
let browser: Browser;
const runId = '20261207T080000Z-c4a1n0';

describeChromium('web UI: the run page of a chain that is still running', () => {
  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'dagwright-ui-run-page-'));
    mkdirSync(join(store, '_runs'));
    const graph = TaskGraph.build([new ChainStep({ n: 5, note: xss })]);
    const start = Date.now() - 60_000;
    // Four tasks ran 9 s each, the fifth is running, the sixth has not started (not in the record yet).
    const tasks: TaskHistory[] = graph.order().slice(0, 5).map((id, k): TaskHistory => ({
      id, family: ChainStep.family, attempts: 1, status: k < 4 ? 'ran' : 'running', startedAt: new Date(start + k * 10_000).toISOString(),
      ...(k < 4 ? { endedAt: new Date(start + k * 10_000 + 9_000).toISOString(), durationMs: 9_000 } : {}),
    }));
    const now = new Date().toISOString();
    const record = { runName: xss, format: 'dagwright.run/1', runId, flow: 'chain', params: { note: xss }, store, host: hostname(), pid: process.pid, startedAt: new Date(start).toISOString(), updatedAt: now, status: 'running', tasks } satisfies RunRecord & { runName: string };
    writeFileSync(join(store, '_runs', `${runId}.json`), JSON.stringify(record));
    await writeRunGraph(parseStore(store), runId, graph);
    ui = new UiServer({ store, port: 0 });
    await ui.start();
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    rmSync(store, { recursive: true, force: true });
  });

  it('draws the chain top to bottom inside the window, every node visible, with pan and zoom', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs/${runId}`);
    await page.waitForSelector('#dag svg');
    expect(await page.locator('#dag svg').getAttribute('data-direction')).toBe('TB');
    expect(await page.locator('#dag g.node').count()).toBe(6);
    const width = await page.evaluate(() => window.innerWidth);
    const svg = (await page.locator('#dag svg').boundingBox())!;
    expect(svg.x + svg.width).toBeLessThanOrEqual(width);
    // The last node of the chain is inside the drawing, not cut off.
    const last = (await page.locator('#dag g.node').last().boundingBox())!;
    expect(last.x).toBeGreaterThanOrEqual(svg.x - 1);
    expect(last.x + last.width).toBeLessThanOrEqual(svg.x + svg.width + 1);
    // Long task ids are shortened to fit their box; the full id is in the tooltip.
    const label = (await page.locator('#dag g.node text').first().textContent())!;
    expect(label.length).toBeLessThanOrEqual(44);
    const before = await page.locator('#dag svg').getAttribute('viewBox');
    await page.click('.graph-tools .zoom-in');
    const zoomed = await page.locator('#dag svg').getAttribute('viewBox');
    expect(zoomed).not.toBe(before);
    await page.click('.graph-tools .zoom-fit');
    expect(Number((await page.locator('#dag svg').getAttribute('viewBox'))!.split(' ')[3])).toBeGreaterThan(0);
    await expectNoSidewaysScroll(page);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    await screenshot(page, 'run-chain');
    await page.close();
  });

  it('shows a hostile run name as text in the runs list', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs`);
    expect(await page.locator(`tr[data-run-id="${runId}"] .run-name a`).textContent()).toBe(xss);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    await page.close();
  });

  it('shows a time axis and a now-line while the run goes on', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs/${runId}`);
    expect(await page.locator('#run-status .status').textContent()).toBe('running');
    expect(await page.locator('#gantt .now-line').count()).toBe(1);
    const ticks = await page.locator('#gantt .tick').allTextContents();
    expect(ticks[0]).toBe('0');
    expect(ticks).toContain('+20 s');
    // Names sit in their own column, left of the bars.
    const name = (await page.locator('#gantt .g-row[data-task-id] .g-name').first().boundingBox())!;
    const bar = (await page.locator('#gantt .g-row[data-task-id] .bar').first().boundingBox())!;
    expect(bar.x).toBeGreaterThanOrEqual(name.x + name.width - 1);
    expect(browser.errors).toEqual([]);
    await page.close();
  });
});
