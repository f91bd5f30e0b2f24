import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_MODEL_NAME, ModelRegistry } from '../../../tasks/registry/registry';
import { firstString, sendPage, type UiContext } from '../context';
import { type Html, html, jsonBlock } from '../html';
import { formatNumber, shortTime } from '../layout';
import { bucketed, quantileMs, readAccuracy, readServingHistory } from '../operations-data';
import type { ChartSpec } from './charts';
import { modelNames } from './registry';

const modelName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** No serving record for this long: the history is stale (the server, or its history writer, stopped). */
const staleAfterMs = 5 * 60_000;
const maxPoints = 720;

/** A bucket size giving at most `maxPoints` points over the span: a minute, five, fifteen, an hour, a day. */
function bucketFor(spanMs: number): number {
  return [60_000, 300_000, 900_000, 3_600_000, 86_400_000].find((b) => spanMs / b <= maxPoints) ?? 86_400_000;
}

async function servingPart(ctx: UiContext, model: string, days: number, now: number): Promise<{ body: Html; charts: ChartSpec[] }> {
  const since = now - days * 86_400_000;
  const { minutes, events, skipped } = await readServingHistory(ctx.store, model, since);
  const swaps = events.filter((e) => e.kind === 'swap' || e.kind === 'start');
  const aliasHistory = await new ModelRegistry(ctx.store, model).aliasHistory?.().catch(() => []) ?? [];
  if (minutes.length === 0) {
    return { body: html`<p class="notice" id="no-history">No serving history for ${model} in the last ${days} day(s): servers write <code>serving/${model}/history/</code> one record a minute.${skipped ? ` ${skipped} file(s) could not be read.` : ''}</p>${aliasHistoryTable(aliasHistory)}`, charts: [] };
  }
  const newest = Math.max(...minutes.map((m) => Date.parse(m.minute)));
  const stale = now - newest > staleAfterMs;
  const bucketMs = bucketFor(now - since);
  const buckets = bucketed(minutes, bucketMs);
  const x = buckets.map((b) => b.at / 1000);
  const per = bucketMs / 60_000;
  // Several servers serve the same minute: a bucket's minutes are counted per distinct minute.
  const distinct = new Map<number, Set<string>>();
  for (const m of minutes) {
    const at = Math.floor(Date.parse(m.minute) / bucketMs) * bucketMs;
    const set = distinct.get(at) ?? new Set<string>();
    set.add(m.minute);
    distinct.set(at, set);
  }
  const span = (at: number) => Math.max(1, distinct.get(at)?.size ?? 1);
  const charts: ChartSpec[] = [
    { title: `Served version (${swaps.length} start/swap event(s))`, xLabel: 'time', time: true, yLabel: 'version', yInteger: true, stepped: true, x, series: [{ label: 'version', values: buckets.map((b) => (b.versions.size ? Math.max(...b.versions) : null)) }] },
    { title: `Requests and errors per minute (${per === 1 ? 'each minute' : `mean over ${per} min`})`, xLabel: 'time', time: true, yLabel: 'per minute', x, series: [{ label: 'requests/min', values: buckets.map((b) => b.requests / span(b.at)) }, { label: 'errors/min (not 2xx)', values: buckets.map((b) => b.errors / span(b.at)) }] },
    { title: 'Latency (ms)', xLabel: 'time', time: true, yLabel: 'ms', x, series: ([0.5, 0.95, 0.99] as const).map((q) => ({ label: `p${Math.round(q * 100)}`, values: buckets.map((b) => quantileMs(b.latency, q)) })) },
  ];
  const body = html`<p id="history-span">${formatNumber(minutes.length)} serving minute(s) from ${shortTime(new Date(Math.min(...minutes.map((m) => Date.parse(m.minute)))).toISOString())} to ${shortTime(new Date(newest).toISOString())}${skipped ? `; ${skipped} damaged file(s) skipped` : ''}.
${stale ? html`<span class="status status-failed" id="stale">stale</span> no record for ${Math.round((now - newest) / 60_000)} min: the server or its history writer stopped.` : html`<span class="status status-ran">current</span>`}</p>
<h3>Swaps</h3>${swaps.length === 0 ? html`<p>No start or swap in this span.</p>` : html`<table id="swaps"><thead><tr><th>when</th><th>event</th><th>version</th><th>where</th><th>why</th></tr></thead><tbody>${swaps.slice(-50).reverse().map((e) => html`<tr><td>${shortTime(e.at)}</td><td>${e.kind}</td><td class="num">${e.version ?? '-'}</td><td>${e.where}</td><td>${e.why}</td></tr>`)}</tbody></table>`}`;
  return { body, charts };
}

function aliasHistoryTable(entries: readonly unknown[]): Html {
  return entries.length === 0 ? html`` : html`<p>The registry's alias history is on the <a href="/registry">registry page</a>.</p>`;
}

async function accuracyPart(ctx: UiContext, model: string, since: number): Promise<{ body: Html; charts: ChartSpec[] }> {
  const [realized, estimated] = await Promise.all([readAccuracy(ctx.store, model, 'realized-accuracy'), readAccuracy(ctx.store, model, 'estimated-accuracy')]);
  const charts: ChartSpec[] = [];
  for (const window of new Set([...realized.keys(), ...estimated.keys()])) {
    const r = (realized.get(window) ?? []).filter((p) => Date.parse(p.end) >= since);
    const e = (estimated.get(window) ?? []).filter((p) => Date.parse(p.end) >= since);
    const times = [...new Set([...r, ...e].map((p) => Date.parse(p.end)))].sort((a, b) => a - b);
    if (times.length === 0) continue;
    const at = (points: typeof r) => times.map((t) => points.find((p) => Date.parse(p.end) === t)?.accuracy ?? null);
    charts.push({ title: `Accuracy per ${window} window: realized (labelled) and estimated`, xLabel: 'time', time: true, yLabel: 'accuracy', x: times.map((t) => t / 1000), series: [{ label: 'realized', values: at(r) }, { label: 'estimated (CBPE)', values: at(e) }] });
  }
  return { body: charts.length ? html`` : html`<p class="notice" id="no-accuracy">No realized or estimated accuracy for ${model} yet (<code>monitoring/${model}/realized-accuracy/</code>, <code>estimated-accuracy/</code>).</p>`, charts };
}

async function operationsPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const started = performance.now();
  const raw = request.query as Record<string, unknown>;
  const names = await modelNames(ctx.store).catch(() => [] as string[]);
  const asked = firstString(raw.model);
  const model = asked && modelName.test(asked) ? asked : names.includes(DEFAULT_MODEL_NAME) || names.length === 0 ? DEFAULT_MODEL_NAME : names[0];
  const days = Math.max(1, Math.min(90, Number.parseInt(firstString(raw.days) ?? '30', 10) || 30));
  const now = Date.now();
  const [serving, accuracy] = await Promise.all([servingPart(ctx, model, days, now), accuracyPart(ctx, model, now - days * 86_400_000)]);
  const body = html`<h1>Operations of ${model}</h1>
<form method="get" action="/operations" class="filters"><label>model <select name="model">${[...new Set([model, ...names])].map((n) => html`<option${n === model ? html` selected` : ''}>${n}</option>`)}</select></label>
<label>days <input name="days" type="number" min="1" max="90" value="${days}"></label><button type="submit">Show</button></form>
<h2>Serving</h2>${serving.body}
<h2>Accuracy</h2>${accuracy.body}
<p>Drift verdicts over time: <a href="/serving?model=${model}">serving and drift</a>.</p>
<div class="charts" id="charts"></div>${jsonBlock('chart-data', [...serving.charts, ...accuracy.charts])}
<p class="timing" id="operations-timing">read in ${Math.round(performance.now() - started)} ms</p>`;
  return sendPage(ctx, request, reply, { title: `Operations of ${model}`, section: 'operations', body, scripts: ['uplot.js', 'app.js'], styles: ['uplot.css'] });
}

export function registerOperations(app: FastifyInstance, ctx: UiContext): void {
  app.get('/operations', (request, reply) => operationsPage(ctx, request, reply));
}
