/**
 * The registry, serving and drift, and labelling pages in chromium, against
 * a store made by real runs of flows/register.ts (two versions), a real model
 * server (tasks/serving) answering real requests and filling the prediction
 * log, and a drift summary in the agreed `monitoring/<model>/latest.json` form.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listLabelledBatches, readLabelledBatch } from '../tasks/data/labelled-batch';
import { type DriftReport, renderReportHtml, summarise } from '../tasks/drift/report';
import { ModelRegistry } from '../tasks/registry/registry';
import { ModelServer } from '../tasks/serving/model-server';
import { readPredictionLog, recordPixels } from '../tasks/serving/prediction-log/prediction-log';
import { UiServer } from '../app/ui/ui-server';
import { type Browser, describeChromium, expectNoSidewaysScroll, launchBrowser, screenshot } from './fixtures/ui-browser';
import { runFlowProcess } from './helpers/flow-process';


// Page functions run in the browser; these are the few DOM names they use (the project compiles without the DOM library).
interface PageElement { getAttribute(name: string): string | null; complete?: boolean; naturalWidth?: number; naturalHeight?: number }
declare const document: { querySelector(selector: string): PageElement | null; body: PageElement };
declare const window: { __xss?: number };

const model = 'mnist-digits';
const tagXss = '<img src=x onerror=window.__xss=1>';
let store: string;
let ui: UiServer;
let server: ModelServer;
let browser: Browser;

async function register(args: string[]): Promise<void> {
  const result = await runFlowProcess('flows/register.ts', ['--increment', '1', '--increment-size', '500', '--epochs', '1', '--batch-size', '32', '--executor', 'inprocess', '--store', store, ...args]);
  if (result.code !== 0) throw new Error(`register failed (${result.code}): ${result.stderr.slice(-2000)}`);
}

/** Seeded noise and blank images, as a client would send them: the model is unsure of most. */
function images(n: number, seed: number): number[] {
  let s = seed;
  const out: number[] = [];
  for (let i = 0; i < n * 784; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out.push(i % 784 < 392 && (i / 784) % 2 < 1 ? 0 : s % 256);
  }
  return out;
}

async function infer(n: number, seed: number): Promise<void> {
  const meta = (await (await fetch(`${server.url}/v2/models/${model}`)).json()) as { inputs: { name: string }[] };
  const res = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: meta.inputs[0].name, shape: [n, 28, 28, 1], datatype: 'UINT8', data: images(n, seed) }] }),
  });
  if (res.status !== 200) throw new Error(`infer answered ${res.status}: ${await res.text()}`);
}

describeChromium('web UI: registry, serving and drift, labelling in chromium', () => {
  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'dagwright-ui-models-'));
    await register([]);
    await register(['--seed', '7', '--tags', `stage=test,note=${tagXss}`]);
    server = new ModelServer({ store, model, port: 0, predictionLog: { chunkRecords: 10, chunkMaxAgeMs: 200 } });
    await server.start();
    await infer(16, 1);
    await infer(16, 2);
    ui = new UiServer({ store, port: 0, serverUrl: server.url, serverSampleMs: 250 });
    await ui.start();
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(ui.startUrl);
    await page.close();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    await server?.stop();
    rmSync(store, { recursive: true, force: true });
  });

  it('lists models and shows versions with metrics, tags (escaped), aliases and their history', async () => {
    const registry = new ModelRegistry(store, model);
    const [versions, aliases] = await Promise.all([registry.versions(), registry.aliases()]);
    expect(versions).toHaveLength(2);
    const page = await browser.newPage();
    await page.goto(`${ui.url}/registry`);
    expect(await page.locator(`#models tr[data-model="${model}"] td`).nth(1).textContent()).toBe('2');
    await page.click(`#models a`);
    expect(await page.locator('#versions tbody tr').count()).toBe(2);
    const v2 = page.locator('#versions tr[data-version="2"]');
    expect(await v2.textContent()).toContain(`note=${tagXss}`);
    expect(await v2.textContent()).toContain(String(Number((versions[1].metrics.testAccuracy as number).toPrecision(6))));
    expect(await page.locator('#aliases').textContent()).toContain(`champion`);
    expect(await page.locator('#aliases').textContent()).toContain(`v${aliases.champion}`);
    expect(await page.locator('#alias-history tbody tr').count()).toBe((await registry.aliasHistory()).length);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    await screenshot(page, 'registry');
    await page.close();
  });

  it('the MNIST training and evaluation runs tracked their parameters, per-epoch metrics and test accuracy', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/experiments?q=${encodeURIComponent('metrics.test_accuracy > 0 and params.epochs = 1')}`);
    expect((await page.locator('#compare-params thead th').allTextContents()).slice(1)).toHaveLength(2);
    expect(await page.locator('#compare-params tr[data-key=seed]').getAttribute('class')).toBe('differs');
    const metricKeys = await page.locator('#compare-metrics tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));
    expect(metricKeys).toEqual(['accuracy', 'loss', 'samples_per_second', 'test_accuracy', 'val_accuracy']);
    const versions = await new ModelRegistry(store, model).versions();
    const shown = await page.locator('#compare-metrics tr[data-key=test_accuracy] td').allTextContents();
    expect(shown.sort()).toEqual(versions.map((v) => String(Number((v.metrics.testAccuracy as number).toPrecision(6)))).sort());
    await page.close();
  });

  it("draws a version's lineage back to its training run, data increment and source-file hashes", async () => {
    const version = await new ModelRegistry(store, model).version(1);
    const lineage = version.lineage as { training: { runId: string }; data: { source: { images: { sha256: string } } } };
    const page = await browser.newPage();
    await page.goto(`${ui.url}/registry/${model}/versions/1`);
    await page.waitForSelector('#lineage svg');
    const titles = await page.locator('#lineage g.node title').allTextContents();
    expect(titles.some((t) => t.includes(lineage.data.source.images.sha256))).toBe(true);
    const labels = await page.locator('#lineage g.node text').allTextContents();
    expect(labels).toContain(`${model} v1`);
    expect(labels).toContain('data increment 1');
    expect(labels).toContain(`run ${lineage.training.runId}`);
    expect(await page.locator('#lineage path.edge').count()).toBeGreaterThanOrEqual(6);
    // Nodes are links: the version leads to the run that trained it; no label runs out of its box.
    expect(await page.locator('#lineage a', { has: page.locator(`text="${model} v1"`) }).getAttribute('href')).toBe(`/runs/${lineage.training.runId}`);
    for (const node of await page.locator('#lineage g.node').all()) {
      const box = (await node.locator('rect').boundingBox())!;
      for (const text of await node.locator('text').all()) expect((await text.boundingBox())!.width).toBeLessThanOrEqual(box.width + 1);
    }
    await expectNoSidewaysScroll(page);
    await screenshot(page, 'lineage');
    // The training node leads to the run that trained the model.
    await page.locator('#lineage a', { has: page.locator('text=/^training /') }).first().click();
    await page.waitForURL(new RegExp(`/runs/${lineage.training.runId}/tasks/`));
    expect(await page.locator('#task-status').textContent()).toBe('ran');
    await page.close();
  });

  it('moves an alias only with the token: 403 without it, moved and recorded with it', async () => {
    const registry = new ModelRegistry(store, model);
    const before = (await registry.aliases()).champion;
    const other = before === 1 ? 2 : 1;
    const fresh = await launchBrowser();
    try {
      const page = await fresh.newPage();
      await page.goto(`${ui.url}/registry/${model}`);
      await page.selectOption('#move-alias select[name=version]', String(other));
      const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.click('#move-alias button')]);
      expect(response.status()).toBe(403);
      expect(await page.locator('[data-problem="403"]').textContent()).toMatch(/token printed when the UI started/);
      expect((await registry.aliases()).champion).toBe(before);
    } finally {
      await fresh.close();
    }
    const page = await browser.newPage();
    await page.goto(`${ui.url}/registry/${model}`);
    await page.selectOption('#move-alias select[name=version]', String(other));
    await page.fill('#move-alias input[name=reason]', 'rolled back from the UI test');
    await page.click('#move-alias button');
    await page.waitForSelector('#moved');
    expect((await registry.aliases()).champion).toBe(other);
    expect(await page.locator('#alias-history tbody tr').first().textContent()).toContain('rolled back from the UI test');
    await page.close();
  });

  it("shows the server's version, requests and latency, and says when no drift report exists yet", async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/serving`);
    expect(await page.locator('#server-metrics').textContent()).toContain('requests (total)');
    const served = await (await fetch(`${server.url}/v2/models/${model}`)).json() as { versions?: string[] };
    expect(served).toBeDefined();
    expect(await page.locator('#serving-version').textContent()).toMatch(/\d/);
    await page.reload(); // after the metadata request above, which is traffic too
    const total = Number((await page.locator('#requests-total').textContent()) ?? '0');
    expect(total).toBeGreaterThanOrEqual(2);
    // Scrapes and health checks are not traffic: the total does not move for them, and does for a prediction.
    for (let i = 0; i < 5; i++) {
      await fetch(`${server.url}/metrics`);
      await fetch(`${server.url}/v2/health/ready`);
    }
    await page.reload();
    expect(Number(await page.locator('#requests-total').textContent())).toBe(total);
    // Two model requests (metadata: traffic that adds nothing to the prediction log the labelling test reads).
    await fetch(`${server.url}/v2/models/${model}`);
    await fetch(`${server.url}/v2/models/${model}`);
    // The rate comes from the server's counters sampled over time (every 250 ms here), not from page visits.
    await new Promise((r) => setTimeout(r, 1200));
    await page.reload();
    expect(Number(await page.locator('#requests-total').textContent())).toBe(total + 2);
    expect(await page.locator('#latency').textContent()).toMatch(/^[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms$/);
    await page.waitForSelector('#charts .uplot');
    expect(await page.locator('#charts .u-title').allTextContents()).toEqual(expect.arrayContaining(['Requests and 5xx errors per second', 'Latency (ms)']));
    const specs = JSON.parse((await page.locator('#chart-data').textContent())!) as { title: string; series: { label: string; values: (number | null)[] }[] }[];
    const rates = specs.find((c) => c.title.startsWith('Requests'))!.series[0].values;
    expect(rates.reduce((a: number, v) => a + (v ?? 0), 0)).toBeGreaterThan(0);
    await expectNoSidewaysScroll(page);
    expect(await page.locator('#no-drift').textContent()).toContain('No drift report');
    await page.close();
  });

  it('shows the latest drift report, its checks, p-values over time and histograms once monitoring wrote them', async () => {
    // Written the way tasks/drift/check-task.ts publishes them: reports/<id>/report.json + report.html, then latest.json.
    const dir = join(store, 'monitoring', model);
    const report = (id: string, time: string, drift: boolean, p: number): DriftReport => {
      const r = {
        formatVersion: 1, time, model, version: 1, drift,
        window: { kind: 'prediction-log', count: 32, last: 32, from: '2026-01-01T00:00:00.000Z', to: '2099-01-01T00:00:00.000Z', key: `w-${id}` },
        reference: { count: 500, uri: join(dir, 'reference'), data: {} },
        tests: [
          { name: 'ks_probabilities', statistic: 0.4, pValue: p, threshold: 0.05, drift, decisive: true },
          { name: 'chi2_classes', statistic: 12.5, pValue: p * 2, threshold: 0.05, drift, decisive: true },
        ],
        options: {}, code: {}, checkMs: 12,
        histograms: [{ name: 'predicted class <b>', categories: ['0', '1', '2'], reference: [0.2, 0.5, 0.3], current: [0.6, 0.2, 0.2] }, { name: 'mean intensity', edges: [0, 0.5, 1], reference: [0.7, 0.3], current: [0.1, 0.9] }],
      };
      return r as unknown as DriftReport;
    };
    for (const [id, time, drift, p] of [['Check_a', '2026-12-01T09:00:00.000Z', false, 0.4], ['Check_b', '2026-12-01T10:00:00.000Z', true, 0.001]] as const) {
      mkdirSync(join(dir, 'reports', id), { recursive: true });
      const r = report(id, time, drift, p);
      writeFileSync(join(dir, 'reports', id, 'report.json'), JSON.stringify(r));
      writeFileSync(join(dir, 'reports', id, 'report.html'), `${renderReportHtml(r)}<script>parent.__xss=1</script>`);
      writeFileSync(join(dir, 'latest.json'), JSON.stringify(summarise(r, join(dir, 'reports', id, 'report.json'), join(dir, 'reports', id, 'report.html'))));
    }
    const page = await browser.newPage();
    await page.goto(`${ui.url}/serving?model=${model}`);
    expect(await page.locator('#drift-decision').textContent()).toBe('drift');
    expect(await page.locator('#drift-tests tbody tr').count()).toBe(2);
    expect(await page.locator('#drift-reports li').first().textContent()).toContain('Check_b');
    await page.waitForSelector('#charts .uplot');
    // p-values over time on a log axis with the threshold drawn, then the newest report's two histograms as bars.
    const titles = await page.locator('#charts .u-title').allTextContents();
    expect(titles).toContain('predicted class <b>: reference vs current');
    const specs = JSON.parse((await page.locator('#chart-data').textContent())!) as { title: string; kind?: string; yLog?: boolean; thresholds?: { value: number }[]; categories?: string[] }[];
    const pValues = specs.find((c) => c.title.startsWith('p-value'))!;
    expect(pValues.yLog).toBe(true);
    expect(pValues.thresholds?.map((t) => t.value)).toEqual([0.05]);
    expect(await page.locator('#charts .threshold-legend').first().textContent()).toContain('threshold 0.05');
    const classes = specs.find((c) => c.title.startsWith('predicted class'))!;
    expect(classes.kind).toBe('bars');
    expect(classes.categories).toEqual(['0', '1', '2']);
    expect(await page.locator('#charts .chart[data-kind=bars]').count()).toBe(2);
    await screenshot(page, 'serving');
    const htmlReport = await browser.context.request.get(`${ui.url}/serving/${model}/reports/Check_b/report.html`);
    expect(htmlReport.status()).toBe(200);
    expect(htmlReport.headers()['content-security-policy']).toMatch(/^sandbox/);
    await page.close();
  });

  it('labels flagged and unsure samples with the keyboard and saves them as a data increment', async () => {
    await server.stop(); // flushes the prediction log
    const logged = await readPredictionLog(store, model);
    expect(logged.length).toBe(32);
    const page = await browser.newPage();
    await page.goto(`${ui.url}/labelling?model=${model}`);
    const cards = page.locator('.sample');
    expect(await cards.count()).toBeGreaterThan(2);
    expect(await cards.first().locator('img').evaluate((img: PageElement) => [img.complete, img.naturalWidth, img.naturalHeight])).toEqual([true, 28, 28]);
    const ids = await cards.evaluateAll((els) => els.slice(0, 3).map((e) => e.getAttribute('data-request-id')!));
    await page.keyboard.press('3');
    await page.keyboard.press('s');
    await page.keyboard.press('7');
    expect(await page.locator('#label-count').textContent()).toBe('2');
    expect(await cards.nth(1).getAttribute('data-label')).toBe('skip');
    await screenshot(page, 'labelling');
    await page.click('#save-labels');
    await page.waitForSelector('#save-result[data-status]');
    expect(await page.locator('#save-result').getAttribute('data-status')).toBe('200');
    expect(await page.locator('#save-result').textContent()).toMatch(/saved 2 labelled sample\(s\) as data increment ui-/);
    const batches = await listLabelledBatches(store);
    expect(batches).toHaveLength(1);
    const batch = await readLabelledBatch(store, batches[0].batchId);
    expect(batch.manifest.source).toBe(`ui:prediction-log:${model}`);
    expect(batch.manifest.files['images.u8']).toMatch(/^[0-9a-f]{64}$/);
    const byId = new Map(logged.map((r) => [r.requestId, r]));
    const expected = new Map([[ids[0], 3], [ids[2], 7]]);
    const got = [...Array(batch.labels.length).keys()].map((i) => Buffer.from(batch.pixels.subarray(i * 784, (i + 1) * 784)).toString('base64'));
    for (const [id, label] of expected) {
      const i = got.indexOf(Buffer.from(recordPixels(byId.get(id)!)).toString('base64'));
      expect(i).toBeGreaterThanOrEqual(0);
      expect(batch.labels[i]).toBe(label);
    }
    // Saved samples are marked at once, and after a reload left out of the queue (never labelled twice).
    expect(await page.locator('.sample.saved').count()).toBe(2);
    await page.reload();
    expect(await page.locator('#saved-left-out').textContent()).toContain('2 sample(s) already saved');
    const queue = await page.locator('.sample').evaluateAll((els) => els.map((e) => e.getAttribute('data-request-id')));
    expect(queue).not.toContain(ids[0]);
    expect(queue).not.toContain(ids[2]);
    // The queue is the serving version's by default.
    expect(await page.locator('#queue-scope').textContent()).toMatch(/serving version v\d+ only/);
    // Undo takes the last label back.
    await page.keyboard.press('4');
    expect(await page.locator('#label-count').textContent()).toBe('1');
    await page.keyboard.press('u');
    expect(await page.locator('#label-count').textContent()).toBe('0');
    expect(await page.locator('.sample').first().getAttribute('data-label')).toBeNull();
    await page.close();
  });

  it('asks for the token before labelling starts when the browser does not hold it', async () => {
    const fresh = await launchBrowser();
    try {
      const page = await fresh.newPage();
      await page.goto(`${ui.url}/labelling?model=${model}`);
      expect(await page.locator('#token-form').count()).toBe(1);
      expect(await page.locator('#save-labels').count()).toBe(0);
      await page.keyboard.press('3');
      expect(await page.locator('.sample[data-label]').count()).toBe(0);
      await screenshot(page, 'labelling-token');
      await page.fill('#token-form input[name=token]', ui.token);
      await page.click('#token-form button');
      await page.waitForSelector('#save-labels');
      expect(page.url()).not.toContain('token=');
      expect(page.url()).toContain(`model=${model}`);
      expect(await page.locator('#token-form').count()).toBe(0);
      await page.keyboard.press('3');
      expect(await page.locator('#label-count').textContent()).toBe('1');
      await expectNoSidewaysScroll(page);
      expect(fresh.errors).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('logged no console error on any page', () => {
    expect(browser.errors).toEqual([]);
  });
});
