import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { effectiveStatus, type RunRecord, type TaskHistory } from '../../../src/history/run-record';
import { readRunGraph } from '../../../src/tracking/run-graph';
import { allowWrite, firstString, sendPage, sendProblem, type UiContext } from '../context';
import { holdsToken } from '../security';
import { cancelRequestFile } from '../../../src/flow/cancel-request';
import { type Html, html, jsonBlock, query } from '../html';
import { seconds, shortTime, statusBadge } from '../layout';
import { dagData } from './run-dag';
import { gantt } from './gantt';

export const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
const taskRows = 300;

function progressBar(t: TaskHistory): Html {
  if (!t.progress || t.progress.total <= 0) return html``;
  const share = Math.max(0, Math.min(1, t.progress.done / t.progress.total));
  return html`<span class="progress" title="${t.progress.done} of ${t.progress.total}${t.progress.note ? `: ${t.progress.note}` : ''}"><span style="width:${(share * 100).toFixed(1)}%"></span></span> ${t.progress.done}/${t.progress.total}`;
}

function taskTable(runId: string, tasks: readonly TaskHistory[], family: string | undefined): Html {
  const shown = tasks.filter((t) => !family || (t.family ?? t.id.split('_')[0]) === family);
  const order = ['failed', 'running', 'blocked', 'cancelled', 'ran', 'complete'];
  shown.sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status));
  return html`<h2 id="tasks">Tasks${family ? html` of family ${family} (<a href="/runs/${runId}#tasks">all</a>)` : ''}</h2>
<table id="task-table"><thead><tr><th>task</th><th>status</th><th>attempts</th><th>duration</th><th>executor</th><th>progress</th><th>error</th></tr></thead><tbody>
${shown.slice(0, taskRows).map(
  (t) => html`<tr data-task-id="${t.id}" data-status="${t.status}"><td><a href="/runs/${runId}/tasks/${encodeURIComponent(t.id)}">${t.id}</a></td><td>${statusBadge(t.status)}</td><td class="num">${t.attempts}</td>
<td class="num">${seconds(t.durationMs)}</td><td>${t.executor ?? ''}</td><td>${progressBar(t)}</td><td class="error">${t.error ?? (t.blockedBy ? `blocked by ${t.blockedBy}` : '')}</td></tr>`,
)}</tbody></table>${shown.length > taskRows ? html`<p>The first ${taskRows} of ${shown.length} tasks (failures first); pick a family in the graph to narrow.</p>` : ''}`;
}

async function runPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { runId } = request.params as { runId: string };
  if (!runIdPattern.test(runId)) return sendProblem(ctx, request, reply, 404, 'No such run', `"${runId}" is not a run id.`);
  const record = await ctx.runs.record(runId);
  if (!record) return sendProblem(ctx, request, reply, 404, 'No such run', `There is no run ${runId} in this store.`);
  const family = firstString((request.query as Record<string, unknown>).family);
  const graph = await readRunGraph(ctx.store, runId).catch(() => undefined);
  const now = Date.now();
  const status = effectiveStatus(record, now);
  const counts = new Map<string, number>();
  for (const t of record.tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const live = status === 'running';
  const body = html`<h1>Run ${record.runId}</h1>
<div id="live"${live ? html` data-events="/runs/${runId}/events?since=${encodeURIComponent(record.updatedAt)}"` : ''} data-status="${status}">
<table class="facts"><tbody>
<tr><th>status</th><td id="run-status">${statusBadge(status)}${live ? ' (updates live)' : ''}${live && !ctx.readOnly && holdsToken(request, ctx.token) ? html` <form method="post" action="/runs/${runId}/cancel" class="inline-form" id="cancel-run"><button type="submit">Cancel run</button></form>` : ''}</td></tr>
<tr><th>flow</th><td>${record.flow}</td></tr>
<tr><th>parameters</th><td>${Object.entries(record.params).map(([k, v]) => html`<code>${k}=${String(v)}</code> `)}</td></tr>
<tr><th>started</th><td>${shortTime(record.startedAt)} on ${record.host} (pid ${record.pid})</td></tr>
<tr><th>${record.endedAt ? 'ended' : 'last update'}</th><td>${record.endedAt ? html`${shortTime(record.endedAt)} after ${seconds(record.durationMs)}` : shortTime(record.updatedAt)}</td></tr>
<tr><th>tasks</th><td id="task-counts">${[...counts].map(([s, n]) => html`${n} ${s} `)}</td></tr>
${record.error ? html`<tr><th>error</th><td class="error">${record.error}</td></tr>` : ''}
</tbody></table>
<p><a href="/experiments${query({ runs: [runId] })}">tracked params and metrics</a></p>
<h2>Timeline</h2>${gantt(record, record.tasks, now, live)}
${taskTable(runId, [...record.tasks], family)}
</div>
<h2>Graph</h2>${graph ? '' : html`<p class="notice">This run recorded no graph (it ran before tracking, or through run() directly): tasks are drawn without their edges.</p>`}
<div class="graph" id="dag" data-graph="dag-data"></div>
${jsonBlock('dag-data', dagData(runId, record, graph))}`;
  return sendPage(ctx, request, reply, { title: `Run ${runId}`, section: 'runs', body, scripts: ['dagre.js', 'app.js'] });
}

/** Server-sent events for a run in progress: `update` when its record changes, `end` once it finished. */
function runEvents(ctx: UiContext, open: Set<() => void>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { runId } = request.params as { runId: string };
    if (!runIdPattern.test(runId)) return reply.code(404).send({ error: 'not a run id' });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    // The version the page showed: anything newer is an update, even one made before this stream opened.
    const since = (request.query as Record<string, unknown>).since;
    let last = typeof since === 'string' ? since : '';
    let timer: NodeJS.Timeout | undefined;
    const close = () => {
      clearTimeout(timer);
      open.delete(close);
      res.end();
    };
    open.add(close);
    request.raw.on('close', close);
    const tick = async () => {
      const record = await ctx.runs.record(runId);
      if (!record) return close();
      if (record.updatedAt !== last) {
        if (last !== '') res.write(`event: update\ndata: ${JSON.stringify({ updatedAt: record.updatedAt })}\n\n`);
        last = record.updatedAt;
      }
      if (effectiveStatus(record) !== 'running') {
        res.write(`event: end\ndata: ${JSON.stringify({ status: effectiveStatus(record) })}\n\n`);
        return close();
      }
      timer = setTimeout(() => void tick(), 500);
    };
    await tick();
  };
}

/** Asks a running run to stop (it stops as on SIGTERM and is recorded as cancelled); a write, so it needs the token. */
async function cancelRun(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!allowWrite(ctx, request, reply)) return reply;
  const { runId } = request.params as { runId: string };
  const record = runIdPattern.test(runId) ? await ctx.runs.record(runId) : undefined;
  if (!record) return sendProblem(ctx, request, reply, 404, 'No such run', `There is no run ${runId} in this store.`);
  if (effectiveStatus(record) !== 'running') return sendProblem(ctx, request, reply, 409, 'Not running', `Run ${runId} is ${effectiveStatus(record)}: there is nothing to cancel.`);
  const file = cancelRequestFile(ctx.store, runId);
  await file.fs.write(file.path, JSON.stringify({ requestedAt: new Date().toISOString(), from: 'web UI' }));
  ctx.logger?.info({ runId }, 'cancel requested from the web UI');
  return reply.redirect(`/runs/${runId}`, 303);
}

export function registerRunPage(app: FastifyInstance, ctx: UiContext, openStreams: Set<() => void>): void {
  app.post('/runs/:runId/cancel', (request, reply) => cancelRun(ctx, request, reply));
  app.get('/runs/:runId', (request, reply) => runPage(ctx, request, reply));
  app.get('/runs/:runId/events', runEvents(ctx, openStreams));
}
