import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readRunTracking } from '../../../src/tracking/read-tracking';
import { readTaskLog } from '../../../src/tracking/task-logs';
import { sendPage, sendProblem, type UiContext } from '../context';
import { type Html, html, jsonBlock } from '../html';
import { formatNumber, seconds, shortTime, statusBadge } from '../layout';
import { metricChart } from './charts';
import { runIdPattern } from './run-page';
import { logView } from './task-log';

/** Each failed attempt's error, from the scheduler's lines in the kept log ("attempt failed; retrying", "task failed"). */
export function attemptErrors(text: string | undefined): { attempt: number; error: string }[] {
  const out: { attempt: number; error: string }[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (!line.includes('"msg":"attempt failed; retrying"') && !line.includes('"msg":"task failed"')) continue;
    try {
      const entry = JSON.parse(line) as { attempt?: number; attempts?: number; err?: { message?: string } };
      out.push({ attempt: entry.attempt ?? entry.attempts ?? 0, error: entry.err?.message ?? 'no message' });
    } catch {
      // a line cut by the log's bound: skip it
    }
  }
  return out;
}

function keyValues(id: string, title: string, values: Readonly<Record<string, string>>): Html {
  const keys = Object.keys(values).sort();
  if (keys.length === 0) return html``;
  return html`<h3>${title}</h3><table id="${id}"><tbody>${keys.map((k) => html`<tr><th>${k}</th><td>${values[k]}</td></tr>`)}</tbody></table>`;
}

async function taskPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { runId, taskId } = request.params as { runId: string; taskId: string };
  if (!runIdPattern.test(runId)) return sendProblem(ctx, request, reply, 404, 'No such run', `"${runId}" is not a run id.`);
  const record = await ctx.runs.record(runId);
  const task = record?.tasks.find((t) => t.id === taskId);
  if (!record || !task) return sendProblem(ctx, request, reply, 404, 'No such task', `Run ${runId} has no task ${taskId}.`);
  const [tracked, log] = await Promise.all([readRunTracking(ctx.store, runId), readTaskLog(ctx.store, runId, taskId)]);
  const attempts = tracked.attempts.filter((a) => a.taskId === taskId);
  const keys = [...new Set(attempts.flatMap((a) => a.metrics.map((p) => p.key)))].sort();
  const charts = keys.slice(0, 24).map((k) => metricChart(k, attempts.map((a) => ({ label: `attempt ${a.attempt}`, points: a.metrics.filter((p) => p.key === k) }))));
  const body = html`<h1>Task ${taskId}</h1>
<p>in run <a href="/runs/${runId}">${runId}</a> (${record.flow})</p>
<table class="facts"><tbody>
<tr><th>status</th><td id="task-status">${statusBadge(task.status)}</td></tr>
<tr><th>attempts</th><td>${task.attempts}</td></tr>
<tr><th>duration</th><td>${seconds(task.durationMs)}</td></tr>
<tr><th>started</th><td>${shortTime(task.startedAt)}</td></tr><tr><th>ended</th><td>${shortTime(task.endedAt)}</td></tr>
${task.executor ? html`<tr><th>executor</th><td>${task.executor}</td></tr>` : ''}
${task.progress ? html`<tr><th>progress</th><td>${task.progress.done} of ${task.progress.total} ${task.progress.note ?? ''}</td></tr>` : ''}
${task.error ? html`<tr><th>error</th><td class="error" id="task-error">${task.error}</td></tr>` : ''}
${task.blockedBy ? html`<tr><th>blocked by</th><td>${task.blockedBy}</td></tr>` : ''}
</tbody></table>
${attemptErrors(log).length ? html`<h2>Failed attempts</h2><table id="attempt-errors"><thead><tr><th>attempt</th><th>error</th></tr></thead><tbody>${attemptErrors(log).map((e) => html`<tr><td class="num">${e.attempt}</td><td class="error">${e.error}</td></tr>`)}</tbody></table>` : ''}
<h2>Tracking</h2>
${attempts.length === 0 ? html`<p>This task tracked nothing.</p>` : ''}
${attempts.map((a) => {
  const latest = new Map<string, number>();
  for (const p of a.metrics) latest.set(p.key, p.value);
  return html`<section class="attempt" data-attempt="${a.attempt}"><h3>Attempt ${a.attempt}</h3>
${keyValues(`params-${a.attempt}`, 'Parameters', a.params)}${keyValues(`tags-${a.attempt}`, 'Tags', a.tags)}
${latest.size ? html`<h3>Metrics (latest)</h3><table id="metrics-${a.attempt}"><tbody>${[...latest].map(([k, v]) => html`<tr><th>${k}</th><td class="num">${formatNumber(v)}</td></tr>`)}</tbody></table>` : ''}
${a.artifacts.length ? html`<h3>Artifacts</h3><ul>${a.artifacts.map((x) => html`<li>${x.name}: <code>${x.uri}</code></li>`)}</ul>` : ''}
</section>`;
})}
<div class="charts" id="charts"></div>${jsonBlock('chart-data', charts)}
<h2>Log</h2>${log === undefined ? html`<p id="no-log">No log kept: the task logged nothing but its start and end (those are in the table above).</p>` : logView(log)}`;
  return sendPage(ctx, request, reply, { title: taskId, section: 'runs', body, scripts: ['uplot.js', 'app.js'], styles: ['uplot.css'] });
}

export function registerTaskPage(app: FastifyInstance, ctx: UiContext): void {
  app.get('/runs/:runId/tasks/:taskId', (request, reply) => taskPage(ctx, request, reply));
}
