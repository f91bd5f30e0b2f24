import type { FastifyInstance } from 'fastify';
import { effectiveStatus, type RunRecord } from '../../../src/history/run-record';
import { FilterError, parseFilter } from '../../../src/tracking/filter';
import { matchesFilter } from '../../../src/tracking/filter-match';
import { trackedRun } from '../../../src/tracking/run-search';
import { firstString, sendPage, type UiContext } from '../context';
import { html, query } from '../html';
import { seconds, shortTime, statusBadge } from '../layout';

const statuses = ['running', 'succeeded', 'failed', 'cancelled', 'unfinished'] as const;
const perPage = 50;

interface ListQuery {
  readonly status?: string;
  readonly flow?: string;
  readonly q?: string;
  readonly page: number;
}

/** The runs a list page shows, and how many match in all. */
async function listRuns(ctx: UiContext, q: ListQuery): Promise<{ records: RunRecord[]; total: number; error?: string }> {
  const ids = await ctx.runs.ids();
  const offset = (q.page - 1) * perPage;
  if (!q.status && !q.flow && !q.q) return { records: await ctx.runs.recordsOf(ids.slice(offset, offset + perPage)), total: ids.length };
  let clauses;
  try {
    clauses = q.q ? parseFilter(q.q) : [];
  } catch (err) {
    if (err instanceof FilterError) return { records: [], total: 0, error: err.message };
    throw err;
  }
  const now = Date.now();
  let records = await ctx.runs.recordsOf(ids);
  if (q.status) records = records.filter((r) => effectiveStatus(r, now) === q.status);
  if (q.flow) records = records.filter((r) => r.flow.includes(q.flow!));
  if (clauses.length > 0) {
    const tracked = clauses.some((c) => c.entity !== 'attributes') ? await ctx.runs.trackingOf(records) : undefined;
    records = records.filter((r, i) => matchesFilter(clauses, trackedRun(r, tracked?.[i] ?? { runId: r.runId, attempts: [], params: {}, tags: {}, metrics: {} }, now)));
  }
  return { records: records.slice(offset, offset + perPage), total: records.length };
}

function paramText(params: RunRecord['params']): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

export function registerRunsList(app: FastifyInstance, ctx: UiContext): void {
  app.get('/', async (_request, reply) => reply.redirect('/runs'));
  app.get('/runs', async (request, reply) => {
    const raw = request.query as Record<string, unknown>;
    const pageNumber = Math.max(1, Math.min(1_000_000, Number.parseInt(firstString(raw.page) ?? '1', 10) || 1));
    const status = statuses.find((s) => s === firstString(raw.status));
    const q: ListQuery = { status, flow: firstString(raw.flow)?.slice(0, 200), q: firstString(raw.q)?.slice(0, 2000), page: pageNumber };
    const started = performance.now();
    const { records, total, error } = await listRuns(ctx, q);
    const now = Date.now();
    const pages = Math.max(1, Math.ceil(total / perPage));
    const link = (p: number) => `/runs${query({ status: q.status, flow: q.flow, q: q.q, page: p === 1 ? undefined : p })}`;
    const body = html`<h1>Runs</h1>
<form class="filters" method="get" action="/runs">
  <label>status <select name="status"><option value="">any</option>${statuses.map((s) => html`<option${s === q.status ? html` selected` : ''}>${s}</option>`)}</select></label>
  <label>flow <input name="flow" value="${q.flow ?? ''}" placeholder="train"></label>
  <label>MLflow filter <input name="q" size="60" value="${q.q ?? ''}" placeholder="metrics.test_accuracy > 0.98 and params.epochs = 5"></label>
  <button type="submit">Filter</button> <a href="/runs">clear</a>
</form>
${error ? html`<p class="error" id="filter-error">${error}</p>` : ''}
<p id="run-count">${total} run(s)${q.status || q.flow || q.q ? ' match' : ''}; page ${pageNumber} of ${pages}</p>
<table id="runs"><thead><tr><th>run</th><th>status</th><th>flow</th><th>parameters</th><th>started</th><th>duration</th><th>host</th><th>tasks</th></tr></thead><tbody>
${records.map(
  (r) => html`<tr data-run-id="${r.runId}"><td><a href="/runs/${r.runId}">${r.runId}</a></td><td>${statusBadge(effectiveStatus(r, now))}</td><td>${r.flow}</td>
<td class="params">${paramText(r.params)}</td><td>${shortTime(r.startedAt)}</td><td class="num">${seconds(r.durationMs)}</td><td>${r.host}</td><td class="num">${r.tasks.length}</td></tr>`,
)}
</tbody></table>
${total === 0 && !error ? html`<p class="notice">No runs recorded in this store${q.status || q.flow || q.q ? ' match these filters' : ' yet: run a flow with --store pointing here'}.</p>` : ''}
<p class="pager">${pageNumber > 1 ? html`<a href="${link(pageNumber - 1)}" rel="prev">previous</a>` : ''}${pageNumber < pages ? html`<a href="${link(pageNumber + 1)}" rel="next">next</a>` : ''}</p>
<p class="timing">listed in ${Math.round(performance.now() - started)} ms</p>`;
    return sendPage(ctx, request, reply, { title: 'Runs', section: 'runs', body });
  });
}
