import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { effectiveStatus } from '../../../src/history/run-record';
import { FilterError, parseFilter } from '../../../src/tracking/filter';
import { matchesFilter } from '../../../src/tracking/filter-match';
import { metricSeries } from '../../../src/tracking/read-tracking';
import { trackedRun, type TrackedRun } from '../../../src/tracking/run-search';
import { allStrings, firstString, sendPage, type UiContext } from '../context';
import { type Html, html, jsonBlock } from '../html';
import { formatNumber, shortTime, statusBadge } from '../layout';
import { metricChart } from './charts';
import { runIdPattern } from './run-page';
import { isNoop } from '../runs-table';

const pickable = 100;
const maxCompared = 20;

/** Rows of one section: a key per row, a cell per run; `differs` when the runs do not all agree. */
function sideBySide(id: string, title: string, runs: readonly TrackedRun[], values: (r: TrackedRun) => Readonly<Record<string, string | number>>, best?: (key: string) => string | undefined): Html {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(values(r))))].sort();
  if (keys.length === 0) return html`<h2>${title}</h2><p>None tracked.</p>`;
  return html`<h2>${title}</h2><table id="${id}"><thead><tr><th></th>${runs.map((r) => html`<th>${r.record.runId}</th>`)}</tr></thead><tbody>
${keys.map((k) => {
  const cells = runs.map((r) => values(r)[k]);
  const differs = new Set(cells.map((c) => String(c))).size > 1;
  const winner = best?.(k);
  return html`<tr data-key="${k}"${differs ? html` class="differs"` : ''}><th>${k}</th>${runs.map((r, i) => {
    const v = cells[i];
    return html`<td class="${typeof v === 'number' ? 'num' : ''}${winner === r.record.runId ? ' best' : ''}">${typeof v === 'number' ? formatNumber(v) : (v ?? '-')}</td>`;
  })}</tr>`;
})}</tbody></table>`;
}

function bestBy(runs: readonly TrackedRun[], metric: string, mode: 'max' | 'min'): TrackedRun | undefined {
  let best: TrackedRun | undefined;
  for (const r of runs) {
    const v = r.metrics[metric];
    if (v === undefined || Number.isNaN(v)) continue;
    if (!best || (mode === 'max' ? v > best.metrics[metric] : v < best.metrics[metric])) best = r;
  }
  return best;
}

/** The newest runs (at most `maxCompared`) that match an MLflow filter; throws a FilterError for a bad one. */
async function matchingRuns(ctx: UiContext, filter: string): Promise<string[]> {
  const clauses = parseFilter(filter);
  const records = await ctx.runs.recordsOf(await ctx.runs.ids());
  const tracked = await ctx.runs.trackingOf(records);
  return records.filter((r, i) => matchesFilter(clauses, trackedRun(r, tracked[i]))).slice(0, maxCompared).map((r) => r.runId);
}

async function experimentsPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const raw = request.query as Record<string, unknown>;
  const q = firstString(raw.q)?.slice(0, 2000);
  let chosen = allStrings(raw.runs).filter((id) => runIdPattern.test(id)).slice(0, maxCompared);
  let filterError: string | undefined;
  if (chosen.length === 0 && q) {
    try {
      chosen = await matchingRuns(ctx, q);
    } catch (err) {
      if (!(err instanceof FilterError)) throw err;
      filterError = err.message;
    }
  }
  const mode = firstString(raw.mode) === 'min' ? 'min' : 'max';
  // No-op runs (nothing ran, nothing tracked) are not offered: there is nothing in them to compare.
  const recent = (await ctx.runs.recordsOf((await ctx.runs.ids()).slice(0, pickable))).filter((r) => !isNoop(r));
  const records = await ctx.runs.recordsOf(chosen);
  const tracked = await ctx.runs.trackingOf(records);
  const runs = records.map((r, i) => trackedRun(r, tracked[i]));
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const metric = firstString(raw.metric) ?? metricKeys.find((k) => /test.?acc/i.test(k)) ?? metricKeys[0];
  const best = metric ? bestBy(runs, metric, mode) : undefined;
  const charts = metricKeys.slice(0, 24).map((k) => metricChart(k, runs.map((r) => ({ label: r.record.runId, points: metricSeries(r.tracked, k) }))));
  const now = Date.now();
  const body = html`<h1>Experiments</h1>
<form method="get" action="/experiments" id="pick-runs">
<details${runs.length === 0 ? html` open` : ''}><summary>Pick runs to compare (${chosen.length} chosen)</summary>
<table><thead><tr><th></th><th>run</th><th>status</th><th>flow</th><th>started</th></tr></thead><tbody>
${recent.map((r) => html`<tr><td><input type="checkbox" name="runs" value="${r.runId}"${chosen.includes(r.runId) ? html` checked` : ''} aria-label="compare ${r.runId}"></td><td>${r.runId}</td><td>${statusBadge(effectiveStatus(r, now))}</td><td>${r.flow}</td><td>${shortTime(r.startedAt)}</td></tr>`)}
</tbody></table></details>
<label>or every run matching <input name="q" size="50" value="${q ?? ''}" placeholder="params.epochs = 5 and metrics.test_accuracy > 0.9"></label>
${filterError ? html`<p class="error" id="filter-error">${filterError}</p>` : ''}
<label>best run by <select name="metric">${metricKeys.map((k) => html`<option${k === metric ? html` selected` : ''}>${k}</option>`)}</select></label>
<select name="mode"><option value="max"${mode === 'max' ? html` selected` : ''}>highest</option><option value="min"${mode === 'min' ? html` selected` : ''}>lowest</option></select>
<button type="submit">Compare</button></form>
${runs.length === 0 ? html`<p class="notice">Pick two or more runs above to see their parameters side by side and their metric curves overlaid.</p>` : html`
${metric ? html`<p id="best-run">Best run by ${metric} (${mode === 'max' ? 'highest' : 'lowest'}): ${best ? html`<a href="/runs/${best.record.runId}">${best.record.runId}</a> with ${formatNumber(best.metrics[metric])}` : 'none of these runs tracked it'}</p>` : ''}
${sideBySide('compare-params', 'Parameters', runs, (r) => r.params)}
${sideBySide('compare-metrics', 'Metrics (latest value)', runs, (r) => r.metrics, (k) => bestBy(runs, k, k === metric ? mode : /loss|error/i.test(k) ? 'min' : 'max')?.record.runId)}
${sideBySide('compare-tags', 'Tags', runs, (r) => r.tags)}
<h2>Curves</h2><div class="charts" id="charts"></div>`}
${jsonBlock('chart-data', charts)}`;
  return sendPage(ctx, request, reply, { title: 'Experiments', section: 'experiments', body, scripts: ['uplot.js', 'app.js'], styles: ['uplot.css'] });
}

export function registerExperiments(app: FastifyInstance, ctx: UiContext): void {
  app.get('/experiments', (request, reply) => experimentsPage(ctx, request, reply));
}
