/**
 * The web UI in a real browser (Debian's chromium through playwright-core)
 * against a store made by real runs of test/fixtures/ui-flow.ts: the runs
 * list, a run's DAG, timeline, tasks, logs and tracking, a live run, the
 * experiments comparison, the token and read-only refusing writes, escaping,
 * and paths that must not reach outside the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UiServer } from '../app/ui/ui-server';
import { type Browser, describeChromium, expectNoSidewaysScroll, launchBrowser, screenshot } from './fixtures/ui-browser';
import { runFlowProcess, startFlow } from './helpers/flow-process';


// Page functions run in the browser; these are the few DOM names they use (the project compiles without the DOM library).
interface PageElement { getAttribute(name: string): string | null; complete?: boolean; naturalWidth?: number; naturalHeight?: number }
declare const document: { querySelector(selector: string): PageElement | null; body: PageElement };
declare const window: { __xss?: number };

const xss = '<script>window.__xss=1</script>';
let store: string;
let ui: UiServer;
let browser: Browser;
const runIds: string[] = [];

async function runToy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await runFlowProcess('test/fixtures/ui-flow.ts', ['--store', store, '--executor', 'inprocess', ...args], env);
  const runId = result.logs.find((l) => typeof l.runId === 'string')?.runId as string | undefined;
  if (!runId) throw new Error(`the flow did not run: ${result.stderr.slice(-2000)}`);
  return runId;
}

describeChromium('web UI: runs, tracking and experiments in chromium', () => {
  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'dagwright-ui-runs-'));
    // Two real experiment runs that differ in lr; the first also has a failing task and an XSS note.
    runIds.push(await runToy(['--lr', '0.1', '--note', xss, '--fail']));
    runIds.push(await runToy(['--lr', '0.01', '--note', 'plain']));
    // The same again: every task is already complete, nothing runs (a no-op run).
    runIds.push(await runToy(['--lr', '0.01', '--note', 'plain']));
    ui = new UiServer({ store, port: 0 });
    await ui.start();
    browser = await launchBrowser();
    // Opening the start-up URL hands this browser the write token.
    const page = await browser.newPage();
    await page.goto(ui.startUrl);
    await page.close();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    rmSync(store, { recursive: true, force: true });
  });

  it('lists the runs with status, flow, parameters, start, duration and host; the XSS parameter is text', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs?cols=params.note&cols=metrics.test_accuracy`);
    const rows = page.locator('#runs tbody tr');
    expect(await rows.count()).toBe(2);
    const failed = page.locator(`tr[data-run-id="${runIds[0]}"]`);
    expect(await failed.locator('.status').textContent()).toBe('failed');
    expect(await page.locator(`tr[data-run-id="${runIds[1]}"] .status`).textContent()).toBe('succeeded');
    expect(await failed.textContent()).toContain('ui-experiment');
    expect(await failed.locator('td').nth(7).textContent()).toBe(xss);
    expect(await failed.locator('.run-name a').textContent()).toMatch(/^ui-experiment /);
    expect(await failed.textContent()).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    await expectNoSidewaysScroll(page);
    await screenshot(page, 'runs');
    await page.close();
  });

  it('hides no-op runs by default and shows them with the toggle', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs`);
    expect(await page.locator(`tr[data-run-id="${runIds[2]}"]`).count()).toBe(0);
    expect(await page.locator('#noop-hidden').textContent()).toBe('1 no-op run(s) hidden');
    await page.click('#noop-hidden');
    await page.waitForURL(/noop=show/);
    expect(await page.locator('#runs tbody tr').count()).toBe(3);
    expect(await page.locator(`tr[data-run-id="${runIds[2]}"]`).getAttribute('class')).toBe('noop');
    await page.close();
  });

  it('chooses param and metric columns (kept in the URL), sorts by any column and compares selected runs', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs`);
    await page.click('#columns summary');
    await page.check('#columns input[value="params.lr"]');
    await page.uncheck('#columns input[value="metrics.accuracy"]');
    await page.click('#columns button');
    await page.waitForURL(/cols=params\.lr/);
    expect(page.url()).not.toContain('metrics.accuracy');
    const headers = await page.locator('#runs thead th').allTextContents();
    expect(headers).toContain('params.lr');
    expect(headers).not.toContain('metrics.accuracy');
    const order = async () => page.locator('#runs tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id')));
    // params.lr: 0.1 (run 0) > 0.01 (run 1); descending first, then ascending on a second click.
    await page.click('#runs th[data-column="params.lr"] a');
    await page.waitForURL(/sort=params\.lr/);
    expect(page.url()).toContain('cols=params.lr');
    expect(await order()).toEqual([runIds[0], runIds[1]]);
    await page.click('#runs th[data-column="params.lr"] a');
    await page.waitForURL(/order=asc/);
    expect(await order()).toEqual([runIds[1], runIds[0]]);
    await page.goto(`${ui.url}/runs?sort=metrics.test_accuracy`);
    const accuracies = await page.locator('#runs th[data-column="metrics.test_accuracy"]').count();
    expect(accuracies).toBe(1);
    await page.check(`tr[data-run-id="${runIds[0]}"] input[type=checkbox]`);
    await page.check(`tr[data-run-id="${runIds[1]}"] input[type=checkbox]`);
    await page.click('#compare-selected');
    await page.waitForURL(/\/experiments\?/);
    expect(new Set(await page.locator('#compare-params thead th').allTextContents())).toEqual(new Set(['', runIds[0], runIds[1]]));
    await screenshot(page, 'runs-compare');
    await page.close();
  });

  it('filters runs by status and by an MLflow filter over tracked metrics and params', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs?status=failed`);
    expect(await page.locator('#runs tbody tr').count()).toBe(1);
    await page.goto(`${ui.url}/runs`);
    await page.fill('input[name=q]', 'metrics.test_accuracy > 0.975 and params.epochs = 3');
    await page.click('form.filters button');
    await page.waitForURL(/q=/);
    const ids = await page.locator('#runs tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id')));
    expect(ids).toEqual([runIds[1]]);
    await page.goto(`${ui.url}/runs?q=${encodeURIComponent('metrics.test_accuracy LIKE 1')}`);
    expect(await page.locator('#filter-error').textContent()).toMatch(/metrics compare as numbers/);
    await page.close();
  });

  it("draws a run's DAG coloured by status, its timeline and its tasks with the failure", async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs/${runIds[0]}`);
    await page.waitForSelector('#dag svg');
    // Experiment, EvaluateToy, TrainToy, 3 shards, Report, AlwaysFails.
    expect(await page.locator('#dag g.node').count()).toBe(8);
    expect(await page.locator('#dag path.edge').count()).toBe(7);
    const status = async (family: string) => page.locator(`#dag g.node[data-id^="${family}_"]`).first().getAttribute('data-status');
    expect(await status('AlwaysFails')).toBe('failed');
    expect(await status('Report')).toBe('blocked');
    expect(await status('TrainToy')).toBe('ran');
    expect(await page.locator('#dag g.node[data-status=failed] rect').getAttribute('fill')).toBe('#d62728');
    expect(await page.locator('#gantt .g-row[data-task-id]').count()).toBe(6);
    // A time axis: ticks from 0, names in their own column.
    expect((await page.locator('#gantt .tick').allTextContents())[0]).toBe('0');
    expect(await page.locator('#gantt .tick').count()).toBeGreaterThan(1);
    expect(await page.locator('#gantt .now-line').count()).toBe(0);
    await expectNoSidewaysScroll(page);
    const failedRow = page.locator('#task-table tr[data-status=failed]');
    expect(await failedRow.locator('td').nth(2).textContent()).toBe('2');
    expect(await failedRow.locator('.error').textContent()).toContain('the source is unreachable <on purpose>');
    await screenshot(page, 'run');
    await page.close();
  });

  it("shows a task's tracked params, metrics with curves, artifacts, progress and its kept log", async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs/${runIds[0]}`);
    await page.locator('#task-table a', { hasText: /^TrainToy_/ }).click();
    await page.waitForSelector('#charts .uplot');
    expect(await page.locator('#params-1').textContent()).toContain(xss);
    expect(await page.locator('#params-1 tr').count()).toBe(3);
    expect(await page.locator('#tags-1').textContent()).toContain('trained');
    const metrics = await page.locator('#metrics-1').textContent();
    expect(metrics).toContain('val_accuracy');
    expect(metrics).toContain(String(1 / (1 + 3 * 0.1 * 10)));
    expect(await page.locator('#charts .uplot').count()).toBe(3);
    // Epochs are whole numbers: the axis has no 1.5 tick; legends name the curves without "--" placeholders.
    const specs = JSON.parse((await page.locator('#chart-data').textContent())!) as { xInteger?: boolean; xLabel: string }[];
    expect(specs.every((c) => c.xInteger === true)).toBe(true);
    expect(await page.locator('#charts .u-legend').first().textContent()).not.toContain('--');
    // The last ctx.progress() of the attempt stays in the record after the task ended.
    expect(await page.textContent('body')).toContain('3 of 3 epoch 3');
    expect(await page.locator('#task-log').textContent()).toContain('epoch 3/3');
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    await screenshot(page, 'task');
    await page.goto(`${ui.url}/runs/${runIds[0]}`);
    await page.locator('#task-table a', { hasText: /^AlwaysFails_/ }).click();
    expect(await page.locator('#task-error').textContent()).toContain('<on purpose>');
    // The kept log: levels, stack traces on their own lines (no literal \\n), a level filter and a search.
    const stack = page.locator('#task-log pre.stack').first();
    expect(await stack.textContent()).toMatch(/on purpose>\n\s+at /);
    expect(await page.locator('#task-log').textContent()).not.toContain('\\n');
    const lines = await page.locator('#task-log .log-line').count();
    await page.selectOption('#log-level', 'error');
    const errors = await page.locator('#task-log .log-line:not([hidden])').count();
    expect(errors).toBeGreaterThan(0);
    expect(errors).toBeLessThan(lines);
    for (const level of await page.locator('#task-log .log-line:not([hidden]) .log-level').allTextContents()) expect(level).toMatch(/^(ERROR|FATAL)$/);
    await page.selectOption('#log-level', 'trace');
    await page.fill('#log-search', 'retrying');
    expect(await page.locator('#task-log .log-line:not([hidden])').count()).toBeGreaterThan(0);
    expect(await page.locator('#task-log .log-line:not([hidden])').count()).toBeLessThan(lines);
    await screenshot(page, 'task-log');
    expect(await page.locator('#task-log').textContent()).toContain('about to fail on purpose');
    // Both attempts' errors, from the kept log.
    expect(await page.locator('#attempt-errors tbody tr td:first-child').allTextContents()).toEqual(['1', '2']);
    expect(await page.locator('#attempt-errors').textContent()).toContain('the source is unreachable <on purpose>');
    await page.close();
  });

  it('compares runs: parameters side by side with differences marked, curves overlaid, the best run', async () => {
    const page = await browser.newPage();
    await page.goto(`${ui.url}/experiments`);
    for (const id of runIds.slice(0, 2)) await page.check(`input[name=runs][value="${id}"]`); // the third, a no-op run, is not offered
    await page.click('#pick-runs button');
    await page.waitForSelector('#compare-params');
    // The metrics to pick the best run by are those the chosen runs tracked.
    await page.selectOption('select[name=metric]', 'test_accuracy');
    await page.click('#pick-runs button');
    await page.waitForSelector('#compare-params');
    expect(await page.locator('#compare-params tr[data-key=lr]').getAttribute('class')).toBe('differs');
    expect(await page.locator('#compare-params tr[data-key=epochs]').getAttribute('class')).toBeNull();
    const columns = (await page.locator('#compare-params thead th').allTextContents()).slice(1);
    const lr = await page.locator('#compare-params tr[data-key=lr] td').allTextContents();
    expect(Object.fromEntries(columns.map((id, i) => [id, lr[i]]))).toEqual({ [runIds[0]]: '0.1', [runIds[1]]: '0.01' });
    expect(await page.locator('#best-run a').textContent()).toBe(runIds[1]);
    expect(await page.locator('#compare-metrics tr[data-key=test_accuracy] td.best').textContent()).toBe('0.988');
    await page.waitForSelector('#charts .uplot');
    // One chart per metric, each with a curve per run; test_accuracy, one value per run, is shown as numbers.
    expect(await page.locator('#charts .uplot').count()).toBe(3);
    // The legend names each run's curve (no x entry, no "--" placeholders).
    expect(new Set(await page.locator('#charts .uplot').first().locator('.u-legend .u-series').allTextContents())).toEqual(new Set([runIds[0], runIds[1]]));
    const single = page.locator('#charts .chart-value', { hasText: 'test_accuracy' });
    expect(await single.locator('.big-number').allTextContents()).toContain('0.988');
    await screenshot(page, 'experiments');
    // Runs can also be picked by an MLflow filter.
    await page.goto(`${ui.url}/experiments?q=${encodeURIComponent("params.lr = 0.1 and attributes.flow = 'ui-experiment'")}`);
    expect((await page.locator('#compare-params thead th').allTextContents()).slice(1)).toEqual([runIds[0]]);
    await page.close();
  });

  it('updates a run in progress live, without a reload', async () => {
    const live = startFlow('test/fixtures/ui-flow.ts', ['--store', store, '--executor', 'inprocess', '--lr', '0.05', '--epochs', '4'], { UI_TEST_SLOW_MS: '5000' });
    try {
      let runId: string | undefined;
      for (let i = 0; i < 200 && !runId; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const ids = (await ui.health()).ready ? await (await fetch(`${ui.url}/runs`)).text() : '';
        runId = [...ids.matchAll(/data-run-id="([^"]+)"/g)].map((m) => m[1]).find((id) => !runIds.includes(id));
      }
      expect(runId).toBeDefined();
      const page = await browser.newPage();
      await page.goto(`${ui.url}/runs/${runId}`);
      expect(await page.locator('#live').getAttribute('data-status')).toBe('running');
      await page.waitForFunction(() => document.querySelector('#task-table tr[data-status=running] .progress') !== null, undefined, { timeout: 20_000 });
      expect(await page.locator('#task-table tr[data-status=running]').textContent()).toMatch(/[1-4]\/4/);
      await screenshot(page, 'run-live');
      await page.waitForFunction(() => document.querySelector('#live')?.getAttribute('data-status') === 'succeeded', undefined, { timeout: 30_000 });
      expect(await page.evaluate(() => Number(document.body.getAttribute('data-updates')))).toBeGreaterThan(1);
      // The shards were made by the earlier runs: complete; the rest ran.
      expect(await page.locator('#dag g.node[data-status=ran]').count()).toBe(3);
      expect(await page.locator('#dag g.node[data-status=complete]').count()).toBe(3);
      await page.close();
    } finally {
      live.child.kill('SIGKILL');
      await live.done;
    }
  }, 90_000);

  it('cancels a running run with the token: it stops as on SIGTERM and is recorded as cancelled', async () => {
    const live = startFlow('test/fixtures/ui-flow.ts', ['--store', store, '--executor', 'inprocess', '--lr', '0.07', '--epochs', '4'], { UI_TEST_SLOW_MS: '60000' });
    try {
      let runId: string | undefined;
      for (let i = 0; i < 200 && !runId; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const text = await (await fetch(`${ui.url}/runs?status=running`)).text();
        runId = [...text.matchAll(/data-run-id="([^"]+)"/g)].map((m) => m[1]).find((id) => !runIds.includes(id));
      }
      expect(runId).toBeDefined();
      // Without the token the write is refused.
      expect((await fetch(`${ui.url}/runs/${runId}/cancel`, { method: 'POST' })).status).toBe(403);
      const page = await browser.newPage();
      await page.goto(`${ui.url}/runs/${runId}`);
      await page.click('#cancel-run button');
      await page.waitForFunction(() => document.querySelector('#live')?.getAttribute('data-status') === 'cancelled', undefined, { timeout: 30_000 });
      expect((await live.done).code).toBe(143); // as on SIGTERM
      expect(await page.locator('#run-status .status').textContent()).toBe('cancelled');
      await screenshot(page, 'run-cancelled');
      await page.close();
    } finally {
      live.child.kill('SIGKILL');
      await live.done;
    }
  }, 90_000);

  it('refuses writes without the token (403) and keeps URLs inside the store', async () => {
    const fresh = await launchBrowser();
    try {
      const page = await fresh.newPage();
      await page.goto(`${ui.url}/runs`);
      expect(await page.locator('header .mode').textContent()).toContain('read-only until');
      const refused = await page.evaluate(async () => {
        const r = await fetch('/labelling/save', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mnist-digits', samples: [{ requestId: 'x', label: 1 }] }) });
        return { status: r.status, body: (await r.json()) as { error: string } };
      });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatch(/need the token printed when the UI started/);
      const wrong = await fresh.context.request.get(`${ui.url}/runs?token=not-the-token`);
      expect(wrong.status()).toBe(403);
      for (const path of ['/runs/..%2F..%2F..%2Fetc%2Fpasswd', '/assets/..%2F..%2Fpackage.json', '/assets/app.js%2F..%2F..%2Fpackage.json', '/serving/x/reports/..%2F..%2F_runs%2Fa.json', `/runs/${runIds[0]}/tasks/..%2F..%2F..%2Fetc%2Fpasswd`, '/etc/passwd']) {
        const res = await fresh.context.request.get(`${ui.url}${path}`);
        expect(res.status(), path).toBe(404);
        expect(await res.text()).not.toContain('root:');
      }
      const rebound = await fresh.context.request.get(`${ui.url}/runs`, { headers: { host: 'evil.example:80' } });
      expect(rebound.status()).toBe(403);
      await page.close();
    } finally {
      await fresh.close();
    }
    // The browser that opened the start-up URL holds the token.
    const page = await browser.newPage();
    await page.goto(`${ui.url}/runs`);
    expect(await page.locator('header .mode').textContent()).toBe('writes allowed (token held)');
    await page.close();
  });

  it('turns every write off with --read-only, even with the token', async () => {
    const readOnly = new UiServer({ store, port: 0, readOnly: true, token: ui.token });
    await readOnly.start();
    try {
      const res = await fetch(`${readOnly.url}/registry/mnist-digits/alias`, { method: 'POST', headers: { authorization: `Bearer ${ui.token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'alias=champion&version=1' });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('--read-only');
    } finally {
      await readOnly.stop();
    }
  });

  it('logged no console error on any page', () => {
    expect(browser.errors).toEqual([]);
  });
});
