import type { FastifyInstance } from 'fastify';
import { effectiveStatus } from '../../../src/history/run-record';
import { type FilterClause, FilterError, parseFilter } from '../../../src/tracking/filter';
import { matchesFilter, type SearchableRun } from '../../../src/tracking/filter-match';
import { allStrings, firstString, sendPage, type UiContext } from '../context';
import { type Html, html, query } from '../html';
import { formatNumber, seconds, shortTime, statusBadge } from '../layout';
import { type RowOrder, type RunRow, valueOf } from '../runs-table';

const statuses = ['running', 'succeeded', 'failed', 'cancelled', 'unfinished'] as const;
const perPage = 50;
const fixedColumns = ['name', 'status', 'flow', 'start', 'duration', 'tasks'] as const;
const columnPattern = /^(?:(?:params|metrics|tags)\.[^\0]{1,200}|name|status|flow|start|duration|tasks)$/;
const maxColumns = 30;

interface ListQuery {
  readonly status?: string;
  readonly flow?: string;
  readonly q?: string;
  readonly page: number;
  /** Chosen tracked columns (`params.lr`, `metrics.test_accuracy`, `tags.stage`); undefined: the default choice. */
  readonly columns?: readonly string[];
  readonly order: RowOrder;
  readonly showNoop: boolean;
}

function searchable(row: RunRow, now: number): SearchableRun {
  const r = row.record;
  return {
    attributes: {
      run_id: r.runId, status: effectiveStatus(r, now), flow: r.flow, run_name: row.name, host: r.host,
      start_time: Date.parse(r.startedAt), end_time: r.endedAt === undefined ? undefined : Date.parse(r.endedAt), duration: r.durationMs,
    },
    params: row.params,
    tags: row.tags,
    metrics: row.metrics,
  };
}

function parseQuery(raw: Record<string, unknown>): ListQuery {
  const page = Math.max(1, Math.min(1_000_000, Number.parseInt(firstString(raw.page) ?? '1', 10) || 1));
  const sort = firstString(raw.sort);
  const chosen = raw.cols === undefined ? undefined : allStrings(raw.cols).filter((c) => columnPattern.test(c) && c.includes('.')).slice(0, maxColumns);
  return {
    status: statuses.find((s) => s === firstString(raw.status)),
    flow: firstString(raw.flow)?.slice(0, 200),
    q: firstString(raw.q)?.slice(0, 2000),
    page,
    ...(chosen ? { columns: chosen } : {}),
    order: { column: sort && columnPattern.test(sort) ? sort : 'start', descending: firstString(raw.order) !== 'asc' },
    showNoop: firstString(raw.noop) === 'show',
  };
}

/** The rows a page shows, how many match, how many no-op runs are hidden, and the keys one can add as columns. */
async function listRuns(ctx: UiContext, q: ListQuery, now: number): Promise<{ rows: RunRow[]; total: number; hidden: number; keys: string[]; error?: string }> {
  let clauses: FilterClause[] = [];
  try {
    clauses = q.q ? parseFilter(q.q) : [];
  } catch (err) {
    if (err instanceof FilterError) return { rows: [], total: 0, hidden: 0, keys: [], error: err.message };
    throw err;
  }
  const sorted = await ctx.table.sortedBy(q.order, now);
  const keys = await ctx.table.columnKeys();
  let hidden = 0;
  const shown = sorted.filter((row) => {
    if (q.status && effectiveStatus(row.record, now) !== q.status) return false;
    if (q.flow && !row.record.flow.includes(q.flow)) return false;
    if (clauses.length > 0 && !matchesFilter(clauses, searchable(row, now))) return false;
    if (row.noop && !q.showNoop) {
      hidden++;
      return false;
    }
    return true;
  });
  const offset = (q.page - 1) * perPage;
  return { rows: shown.slice(offset, offset + perPage), total: shown.length, hidden, keys };
}

/** Without a choice in the URL: the metrics the page's runs tracked (up to four). */
function defaultColumns(rows: readonly RunRow[]): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort().slice(0, 4).map((k) => `metrics.${k}`);
}

function cell(row: RunRow, column: string, now: number): Html {
  const v = valueOf(row, column, now);
  if (column.startsWith('metrics.')) return html`<td class="num">${typeof v === 'number' ? formatNumber(v) : '-'}</td>`;
  return html`<td>${v ?? '-'}</td>`;
}

function header(q: ListQuery, column: string, label: string, link: (over: Partial<Record<string, string | undefined>>) => string): Html {
  const current = q.order.column === column;
  const next = current && q.order.descending ? 'asc' : 'desc';
  const arrow = current ? (q.order.descending ? ' ▼' : ' ▲') : '';
  return html`<th${current ? html` aria-sort="${q.order.descending ? 'descending' : 'ascending'}"` : ''} data-column="${column}"><a href="${link({ sort: column === 'start' ? undefined : column, order: next === 'desc' ? undefined : 'asc', page: undefined })}" title="sort by ${label}">${label}${arrow}</a></th>`;
}

function columnChooser(q: ListQuery, columns: readonly string[], keys: readonly string[]): Html {
  return html`<details id="columns"><summary>Columns (${columns.length} chosen)</summary>
<form method="get" action="/runs" class="column-choice">
${q.status ? html`<input type="hidden" name="status" value="${q.status}">` : ''}${q.flow ? html`<input type="hidden" name="flow" value="${q.flow}">` : ''}${q.q ? html`<input type="hidden" name="q" value="${q.q}">` : ''}
${q.order.column !== 'start' ? html`<input type="hidden" name="sort" value="${q.order.column}">` : ''}${q.showNoop ? html`<input type="hidden" name="noop" value="show">` : ''}
<input type="hidden" name="cols" value="">
${['params', 'metrics', 'tags'].map((kind) => {
  const ofKind = keys.filter((k) => k.startsWith(`${kind}.`));
  return ofKind.length === 0 ? '' : html`<fieldset><legend>${kind}</legend>${ofKind.map((k) => html`<label><input type="checkbox" name="cols" value="${k}"${columns.includes(k) ? html` checked` : ''}> ${k.slice(kind.length + 1)}</label>`)}</fieldset>`;
})}
<button type="submit">Show columns</button></form></details>`;
}

export function registerRunsList(app: FastifyInstance, ctx: UiContext): void {
  app.get('/', async (_request, reply) => reply.redirect('/runs'));
  app.get('/runs', async (request, reply) => {
    const q = parseQuery(request.query as Record<string, unknown>);
    const started = performance.now();
    const now = Date.now();
    const { rows, total, hidden, keys, error } = await listRuns(ctx, q, now);
    const columns = q.columns ?? defaultColumns(rows);
    const pages = Math.max(1, Math.ceil(total / perPage));
    const state = { status: q.status, flow: q.flow, q: q.q, cols: q.columns ? (q.columns.length ? [...q.columns] : ['']) : undefined, sort: q.order.column === 'start' ? undefined : q.order.column, order: q.order.descending ? undefined : 'asc', noop: q.showNoop ? 'show' : undefined };
    const link = (over: Partial<Record<string, string | undefined>>) => `/runs${query({ ...state, ...over } as Record<string, string | readonly string[] | undefined>)}`;
    const fixedLabels: Record<string, string> = { name: 'run', status: 'status', flow: 'flow', start: 'started', duration: 'duration', tasks: 'tasks' };
    const body = html`<h1>Runs</h1>
<form class="filters" method="get" action="/runs">
  <label>status <select name="status"><option value="">any</option>${statuses.map((s) => html`<option${s === q.status ? html` selected` : ''}>${s}</option>`)}</select></label>
  <label>flow <input name="flow" value="${q.flow ?? ''}" placeholder="train"></label>
  <label>MLflow filter <input name="q" size="50" value="${q.q ?? ''}" placeholder="metrics.test_accuracy > 0.98 and params.epochs = 5"></label>
  ${state.cols ? state.cols.map((c) => html`<input type="hidden" name="cols" value="${c}">`) : ''}${state.sort ? html`<input type="hidden" name="sort" value="${state.sort}">` : ''}${state.order ? html`<input type="hidden" name="order" value="asc">` : ''}
  <label class="inline"><input type="checkbox" name="noop" value="show"${q.showNoop ? html` checked` : ''} id="show-noop"> show no-op runs</label>
  <button type="submit">Filter</button> <a href="/runs">clear</a>
</form>
${columnChooser(q, columns, keys)}
${error ? html`<p class="error" id="filter-error">${error}</p>` : ''}
<p id="run-count">${total} run(s)${q.status || q.flow || q.q ? ' match' : ''}; page ${pageNumberText(q.page, pages)}${hidden > 0 ? html`; <a id="noop-hidden" href="${link({ noop: 'show', page: undefined })}">${hidden} no-op run(s) hidden</a> (nothing ran: every task was already complete)` : ''}</p>
<form id="compare-form" method="get" action="/experiments"><button type="submit" id="compare-selected">Compare selected runs</button></form>
<div class="table-scroll"><table id="runs"><thead><tr><th><span class="sr">select</span></th>${fixedColumns.map((c) => header(q, c, fixedLabels[c], link))}${columns.map((c) => header(q, c, c, link))}<th>tags</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr data-run-id="${r.record.runId}"${r.noop ? html` class="noop"` : ''}><td><input type="checkbox" name="runs" value="${r.record.runId}" form="compare-form" aria-label="select ${r.record.runId}"></td>
<td class="run-name"><a href="/runs/${r.record.runId}">${r.name}</a><br><small class="run-id">${r.record.runId}</small></td><td>${statusBadge(effectiveStatus(r.record, now))}${r.noop ? html` <small>no-op</small>` : ''}</td><td>${r.record.flow}</td>
<td>${shortTime(r.record.startedAt)}</td><td class="num">${seconds(r.record.durationMs)}</td><td class="num">${r.record.tasks.length}</td>${columns.map((c) => cell(r, c, now))}
<td class="tags">${Object.entries(r.tags).slice(0, 6).map(([k, v]) => html`<span class="tag">${k}=${v}</span> `)}</td></tr>`,
)}
</tbody></table></div>
${total === 0 && !error ? html`<p class="notice">No runs recorded in this store${q.status || q.flow || q.q || hidden ? ' match these filters' : ' yet: run a flow with --store pointing here'}.</p>` : ''}
<p class="pager">${q.page > 1 ? html`<a href="${link({ page: String(q.page - 1) })}" rel="prev">previous</a>` : ''}${q.page < pages ? html`<a href="${link({ page: String(q.page + 1) })}" rel="next">next</a>` : ''}</p>
<p class="timing">listed in ${Math.round(performance.now() - started)} ms</p>`;
    return sendPage(ctx, request, reply, { title: 'Runs', section: 'runs', body });
  });
}

function pageNumberText(page: number, pages: number): string {
  return `${page} of ${pages}`;
}
