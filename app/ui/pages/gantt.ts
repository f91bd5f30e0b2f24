import type { RunRecord, TaskHistory } from '../../../src/history/run-record';
import { type Html, html } from '../html';
import { seconds, shortTime } from '../layout';

const ganttRows = 400;
const colours: Record<string, string> = { ran: '#2e8540', complete: '#7fbf7f', failed: '#d62728', blocked: '#ff9f40', cancelled: '#999', running: '#1f77b4' };
const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];

/** Tick spacing for a span: the smallest step that gives at most 8 ticks. */
export function tickStep(spanMs: number): number {
  return steps.find((s) => spanMs / s <= 8) ?? Math.ceil(spanMs / 8 / 86_400_000) * 86_400_000;
}

/** A tick's label, relative to the run's first start: `+0 s`, `+1.5 s`, `+2 min`, `+1 h 30 min`. */
export function tickLabel(ms: number): string {
  if (ms === 0) return '0';
  if (ms < 1000) return `+${ms} ms`;
  if (ms < 60_000) return `+${Number((ms / 1000).toFixed(1))} s`;
  if (ms < 3_600_000) return `+${Math.floor(ms / 60_000)} min${ms % 60_000 ? ` ${Math.round((ms % 60_000) / 1000)} s` : ''}`;
  return `+${Math.floor(ms / 3_600_000)} h${ms % 3_600_000 ? ` ${Math.round((ms % 3_600_000) / 60_000)} min` : ''}`;
}

/**
 * The run's tasks on a time axis: names in their own column (never on the
 * bars), a bar per task from its start to its end, ticks relative to the
 * first start, and a "now" line while the run goes on.
 */
export function gantt(record: RunRecord, tasks: readonly TaskHistory[], now: number, live: boolean): Html {
  const timed = tasks.filter((t) => t.startedAt).sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
  if (timed.length === 0) return html`<p>No task has started in this run (everything was complete, or nothing ran yet).</p>`;
  const start = Math.min(Date.parse(record.startedAt), ...timed.map((t) => Date.parse(t.startedAt!)));
  const endOf = (t: TaskHistory) => (t.endedAt ? Date.parse(t.endedAt) : t.status === 'running' ? now : Date.parse(t.startedAt!) + (t.durationMs ?? 0));
  const end = Math.max(start + 1, ...timed.map(endOf), live ? now : 0);
  const span = end - start;
  const at = (ms: number) => `${((ms / span) * 100).toFixed(2)}%`;
  const step = tickStep(span);
  const ticks: number[] = [];
  for (let t = 0; t <= span; t += step) ticks.push(t);
  const rows = timed.slice(0, ganttRows).map((t) => {
    const from = Date.parse(t.startedAt!) - start;
    const width = Math.max(0.2, ((endOf(t) - Date.parse(t.startedAt!)) / span) * 100);
    return html`<div class="g-row" data-task-id="${t.id}"><span class="g-name" title="${t.id}">${t.id}</span><span class="g-track"><span class="bar" title="${t.id}: ${t.status}, ${seconds(endOf(t) - Date.parse(t.startedAt!))}" style="left:${at(from)};width:${width.toFixed(2)}%;background:${colours[t.status] ?? '#999'}"></span></span></div>`;
  });
  return html`<p>${seconds(span)} from the first start (${shortTime(new Date(start).toISOString())}) to ${live ? 'now' : 'the last end'}${timed.length > ganttRows ? `; the first ${ganttRows} of ${timed.length} tasks by start time` : ''}.</p>
<div class="gantt" id="gantt"><div class="g-row g-axis"><span class="g-name">time since start</span><span class="g-track">${ticks.map((t) => html`<span class="tick" style="left:${at(t)}">${tickLabel(t)}</span>`)}</span></div>
<div class="g-body"><div class="g-overlay">${ticks.map((t) => html`<span class="gridline" style="left:${at(t)}"></span>`)}${live ? html`<span class="now-line" id="now-line" style="left:${at(now - start)}" title="now"><span>now</span></span>` : ''}</div>${rows}</div></div>`;
}
