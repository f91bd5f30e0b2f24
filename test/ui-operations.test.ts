/**
 * The operations page in chromium over two days of serving history in the
 * stored shape (one record a minute, a swap), realized and estimated
 * accuracy: version over time with the swap listed, requests, errors and
 * latency over time, accuracy per window, a stale history marked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UiServer } from '../app/ui/ui-server';
import { type Browser, describeChromium, expectNoSidewaysScroll, launchBrowser, screenshot } from './fixtures/ui-browser';
import { writeServingHistory } from './fixtures/serving-history';

const model = 'mnist-digits';
let store: string;
let ui: UiServer;
let browser: Browser;

describeChromium('web UI: the operations page', () => {
  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'dagwright-ui-operations-'));
    // Two days ending 20 minutes ago: stale.
    writeServingHistory(store, model, 2 * 24 * 60, 20 * 60_000, 24 * 60);
    ui = new UiServer({ store, port: 0 });
    await ui.start();
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    rmSync(store, { recursive: true, force: true });
  });

  it('draws served version, traffic, latency and accuracy over time, lists the swap and marks a stale history', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/operations?model=${model}`);
    await page.waitForSelector('#charts .uplot');
    expect(await page.locator('#history-span').textContent()).toContain(`${(2 * 24 * 60).toLocaleString('en-US').replace(/,/g, '')} serving minute(s)`);
    expect(await page.locator('#stale').textContent()).toBe('stale');
    expect(await page.locator('#swaps tbody tr').count()).toBe(2);
    expect(await page.locator('#swaps tbody tr').first().textContent()).toContain('alias champion moved to v2');
    const titles = await page.locator('#charts .u-title').allTextContents();
    expect(titles.some((t) => t.startsWith('Served version'))).toBe(true);
    expect(titles).toContain('Latency (ms)');
    expect(titles).toContain('Accuracy per hour window: realized (labelled) and estimated');
    const specs = JSON.parse((await page.locator('#chart-data').textContent())!) as { title: string; series: { label: string; values: (number | null)[] }[] }[];
    const version = specs.find((c) => c.title.startsWith('Served version'))!.series[0].values;
    expect(version[0]).toBe(1);
    expect(version.at(-1)).toBe(2);
    const errors = specs.find((c) => c.title.startsWith('Requests'))!.series[1].values;
    expect(errors.every((v) => v !== null && Math.abs(v - 2) < 1e-9)).toBe(true);
    await expectNoSidewaysScroll(page);
    await screenshot(page, 'operations');
    expect(browser.errors).toEqual([]);
    await page.close();
  });
});
