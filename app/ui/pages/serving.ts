import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_MODEL_NAME } from '../../../tasks/registry/registry';
import { directoryAt, fileAt, listUnder, type StoreLocation } from '../../../tasks/store';
import { type DriftSummary, readLatestSummary } from '../../../tasks/store-layout';
import { DamagedFileError } from '../../../src/store/stored-file';
import { firstString, sendPage, sendProblem, type UiContext } from '../context';
import { type Html, html, jsonBlock } from '../html';
import { formatNumber, shortTime } from '../layout';
import type { ChartSpec } from './charts';
import { interval } from '../serving-samples';
import { modelNames } from './registry';

const modelName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const reportName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(json|html)$/;
const reportFile = /^(?:([A-Za-z0-9][A-Za-z0-9._-]{0,200})\/report\.(json|html)|([A-Za-z0-9][A-Za-z0-9._-]{0,200})\.(json|html))$/;
const maxReports = 100;

async function readJson<T>(store: StoreLocation, ...parts: string[]): Promise<T | undefined> {
  const file = fileAt(store, ...parts);
  if (!(await file.exists())) return undefined;
  return file.readJson<T>();
}

function ms(v: number | undefined): string {
  return v === undefined ? '-' : `${formatNumber(Number(v.toPrecision(3)))} ms`;
}

/** The server's own counters over time (sampled by the UI every few seconds), as numbers now and charts. */
function serverSection(ctx: UiContext): { body: Html; charts: ChartSpec[] } {
  const sampler = ctx.sampler;
  if (!sampler) return { body: html`<p class="notice" id="no-server">No model server given: start the UI with <code>--server http://127.0.0.1:8080</code> to show the serving version, request rate and latency.</p>`, charts: [] };
  if (sampler.last.error) return { body: html`<p class="notice" id="server-error">${sampler.last.error}</p>`, charts: [] };
  const history = sampler.history();
  const now = history.at(-1);
  const intervals = sampler.intervals();
  const recent = intervals.at(-1);
  const overall = now ? interval({ at: 0, requests: 0, serverErrors: 0, clientErrors: 0, buckets: [] }, { ...now, at: 1000 }) : undefined;
  const requests = sampler.last.samples.filter((x) => /requests_total$/.test(x.name));
  const body = html`<table id="server-metrics"><tbody>
<tr><th>server</th><td>${sampler.serverUrl}</td></tr>
<tr><th>serving version</th><td id="serving-version">${now?.version ? html`<code>${now.version}</code>` : '-'}</td></tr>
<tr><th>requests (total)</th><td class="num" id="requests-total">${formatNumber(now?.requests ?? 0)}</td><td class="note">client requests only: /metrics scrapes and health checks are not counted</td></tr>
<tr><th>errors (total)</th><td class="num">${formatNumber(now?.serverErrors ?? 0)} 5xx, ${formatNumber(now?.clientErrors ?? 0)} 4xx</td><td></td></tr>
<tr><th>request rate</th><td class="num" id="request-rate">${recent ? `${formatNumber(Number(recent.rate.toPrecision(3)))} /s` : 'from the second sample on'}</td><td class="note">${recent ? `over the last ${Math.round((recent.at - history.at(-2)!.at) / 1000)} s, from the server's counters` : ''}</td></tr>
<tr><th>latency p50 / p95 / p99</th><td class="num" id="latency">${ms(overall?.p50)} / ${ms(overall?.p95)} / ${ms(overall?.p99)}</td><td class="note">since the server started</td></tr>
</tbody></table>
<details><summary>requests by route and status</summary><table>${requests.map((r) => html`<tr><td>${Object.entries(r.labels).map(([k, l]) => `${k}=${l}`).join(' ')}</td><td class="num">${r.value}</td></tr>`)}</table></details>`;
  if (intervals.length < 2) return { body: html`${body}<p class="notice" id="server-history-note">Charts over time appear once the UI has sampled the server a few times (every ${Math.round(sampler.everyMs / 1000)} s).</p>`, charts: [] };
  const x = intervals.map((i) => i.at / 1000);
  const charts: ChartSpec[] = [
    { title: 'Requests and 5xx errors per second', xLabel: 'time', time: true, yLabel: 'per second', x, series: [{ label: 'requests/s', values: intervals.map((i) => i.rate) }, { label: '5xx/s', values: intervals.map((i) => i.errorRate) }] },
    { title: 'Latency (ms)', xLabel: 'time', time: true, yLabel: 'ms', x, series: (['p50', 'p95', 'p99'] as const).map((q) => ({ label: q, values: intervals.map((i) => i[q] ?? null) })) },
  ];
  return { body, charts };
}

interface ReportEntry {
  /** The report's name: its folder (`reports/<id>/report.json`) or its file name without extension. */
  readonly id: string;
  readonly json?: string;
  readonly html?: string;
}

/** Reports under `monitoring/<model>/reports/`: `<id>/report.json|html` (as monitoring writes them) or flat `<name>.json|html`. */
function reportEntries(files: readonly string[]): ReportEntry[] {
  const byId = new Map<string, { json?: string; html?: string }>();
  for (const f of files) {
    const m = reportFile.exec(f);
    if (!m) continue;
    const id = m[1] ?? m[3];
    const kind = (m[2] ?? m[4]) as 'json' | 'html';
    byId.set(id, { ...byId.get(id), [kind]: f });
  }
  return [...byId].map(([id, e]) => ({ id, ...e }));
}

interface HistogramData {
  readonly name: string;
  readonly edges?: number[];
  readonly categories?: string[];
  readonly reference: number[];
  readonly current: number[];
}

/** A histogram as bars, reference beside current: classes by name, bins at their centres. */
export function histogramChart(h: HistogramData): ChartSpec {
  const categorical = h.categories !== undefined || !h.edges || h.edges.length < h.reference.length + 1;
  const x = h.reference.map((_, i) => (categorical ? i : (h.edges![i] + h.edges![i + 1]) / 2));
  return {
    title: `${h.name}: reference vs current`, xLabel: h.categories ? 'class' : 'bin', kind: 'bars', x, yLabel: 'share',
    ...(categorical ? { xInteger: true, categories: h.categories ?? x.map(String) } : {}),
    series: [{ label: 'reference', values: h.reference }, { label: 'current', values: h.current }],
  };
}

/** Smallest p-value drawn on the log axis: a p-value of exactly 0 sits on the floor instead of vanishing. */
const pFloor = 1e-300;

/** p-values over time on a log axis, with each check's threshold as a line (3e-39 and 0.01 no longer look alike). */
export function pValueChart(history: readonly { time: string; tests: readonly { name: string; pValue?: number; threshold: number }[] }[]): ChartSpec {
  const withP = history.flatMap((r) => r.tests.filter((t) => t.pValue !== undefined));
  const names = [...new Set(withP.map((t) => t.name))];
  const thresholds = [...new Set(withP.map((t) => t.threshold).filter((t) => Number.isFinite(t) && t > 0))];
  return {
    title: 'p-value by check over time (log scale; below a line: drift)', xLabel: 'time', yLabel: 'p-value', time: true, yLog: true,
    x: history.map((r) => Date.parse(r.time) / 1000),
    series: names.map((n) => ({ label: n, values: history.map((r) => {
      const p = r.tests.find((t) => t.name === n)?.pValue;
      return p === undefined || !Number.isFinite(p) ? null : Math.max(pFloor, p);
    }) })),
    thresholds: thresholds.map((t) => ({ label: `threshold ${t}`, value: t })),
  };
}

async function driftSection(ctx: UiContext, model: string): Promise<{ body: Html; charts: ChartSpec[] }> {
  let latest: DriftSummary | undefined;
  try {
    latest = await readLatestSummary(ctx.store, model);
  } catch (err) {
    if (!(err instanceof DamagedFileError)) throw err;
    return { body: html`<p class="error" id="damaged-file">${err.message}</p>`, charts: [] };
  }
  const files = await listUnder(directoryAt(ctx.store, 'monitoring', model, 'reports')).catch(() => [] as string[]);
  const reports = reportEntries(files);
  if (!latest) {
    return { body: html`<p class="notice" id="no-drift">No drift report for ${model} yet: <code>monitoring/${model}/latest.json</code> is not in this store (flows/monitor.ts writes it).</p>`, charts: [] };
  }
  const read = await Promise.all(reports.filter((r) => r.json).slice(-maxReports).map(async (r) => ({ entry: r, report: await readJson<DriftSummary & { histograms?: HistogramData[] }>(ctx.store, 'monitoring', model, 'reports', ...r.json!.split('/')).catch(() => undefined) })));
  const history = read.filter((r) => r.report !== undefined && typeof r.report.time === 'string' && Array.isArray(r.report.tests)).sort((a, b) => a.report!.time.localeCompare(b.report!.time));
  const charts: ChartSpec[] = [];
  if (history.length > 1) charts.push(pValueChart(history.map((r) => r.report!)));
  const newest = history.at(-1)?.report;
  for (const h of (newest?.histograms ?? []).slice(0, 12)) if (Array.isArray(h.reference) && Array.isArray(h.current)) charts.push(histogramChart(h));
  const link = (r: ReportEntry, kind: 'json' | 'html') => (r[kind] ? html` <a href="/serving/${model}/reports/${r[kind]!}">${kind.toUpperCase()}</a>` : '');
  const ordered = [...history.map((h) => h.entry).reverse(), ...reports.filter((r) => !history.some((h) => h.entry.id === r.id))];
  const body = html`<table id="drift-latest"><tbody>
<tr><th>checked</th><td>${shortTime(latest.time)}</td></tr><tr><th>version</th><td>v${latest.version}</td></tr>
<tr><th>drift</th><td id="drift-decision">${latest.drift ? html`<span class="status status-failed">drift</span>` : html`<span class="status status-ran">no drift</span>`}</td></tr>
<tr><th>window</th><td><code>${JSON.stringify(latest.window ?? {})}</code></td></tr></tbody></table>
<table id="drift-tests"><thead><tr><th>check</th><th>statistic</th><th>p-value</th><th>threshold</th><th>decision</th></tr></thead><tbody>
${latest.tests.map((t) => html`<tr><td>${t.name}</td><td class="num">${formatNumber(t.statistic)}</td><td class="num">${formatNumber(t.pValue)}</td><td class="num">${formatNumber(t.threshold)}</td><td>${t.drift ? 'drift' : 'ok'}</td></tr>`)}
</tbody></table>
<h3>Reports</h3>${reports.length === 0 ? html`<p>No reports under monitoring/${model}/reports/.</p>` : html`<ul id="drift-reports">${ordered.slice(0, 30).map((r) => html`<li>${r.id}:${link(r, 'html')}${link(r, 'json')}</li>`)}</ul>`}
${newest?.histograms?.length ? html`<p>Histograms of the newest report (${shortTime(newest.time)}): reference against current, as shares of each side.</p>` : ''}`;
  return { body, charts };
}

async function servingPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const names = await modelNames(ctx.store).catch(() => [] as string[]);
  const asked = firstString((request.query as Record<string, unknown>).model);
  const model = asked && modelName.test(asked) ? asked : names.includes(DEFAULT_MODEL_NAME) || names.length === 0 ? DEFAULT_MODEL_NAME : names[0];
  const [, drift] = await Promise.all([ctx.sampler?.scrape(), driftSection(ctx, model)]);
  const served = serverSection(ctx);
  const body = html`<h1>Serving and drift</h1>
<form method="get" action="/serving" class="filters"><label>model <select name="model">${[...new Set([model, ...names])].map((n) => html`<option${n === model ? html` selected` : ''}>${n}</option>`)}</select></label><button type="submit">Show</button></form>
<h2>Model server</h2>${served.body}
<h2>Drift of ${model}</h2>${drift.body}
<div class="charts" id="charts"></div>${jsonBlock('chart-data', [...served.charts, ...drift.charts])}`;
  return sendPage(ctx, request, reply, { title: 'Serving and drift', section: 'serving', body, scripts: ['uplot.js', 'app.js'], styles: ['uplot.css'] });
}

/** A drift report from the store: JSON as JSON, HTML sandboxed (no script runs, no access to this origin). */
async function report(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { model, id, name } = request.params as { model: string; id?: string; name: string };
  const valid = modelName.test(model) && (id === undefined ? reportName.test(name) : reportFile.test(`${id}/${name}`));
  if (!valid) return sendProblem(ctx, request, reply, 404, 'No such report', 'Not a model and report name.');
  const file = fileAt(ctx.store, 'monitoring', model, 'reports', ...(id === undefined ? [] : [id]), name);
  if (!(await file.exists())) return sendProblem(ctx, request, reply, 404, 'No such report', `No report ${id ?? name} for ${model}.`);
  const body = await file.readBytes();
  if (name.endsWith('.json')) return reply.type('application/json; charset=utf-8').send(body);
  return reply.header('content-security-policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:").type('text/html; charset=utf-8').send(body);
}

export function registerServing(app: FastifyInstance, ctx: UiContext): void {
  app.get('/serving', (request, reply) => servingPage(ctx, request, reply));
  app.get('/serving/:model/reports/:name', (request, reply) => report(ctx, request, reply));
  app.get('/serving/:model/reports/:id/:name', (request, reply) => report(ctx, request, reply));
}
