/** The simulated month's timeline as a small self-contained HTML page (no scripts, no external files). */
import type { Accuracies, OperateFigures, TimelineDay } from './operate-timeline';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

function cell(a: Accuracies | undefined): string {
  if (!a) return '<td>–</td>';
  return `<td title="${a.labelled} of ${a.predictions} labelled">${pct(a.realized)} / ${pct(a.estimated)}${a.estimatedAlert ? ' ⚠' : ''} / ${pct(a.truth)}</td>`;
}

/** A line chart of one series over the days (0-100%). */
function chart(timeline: readonly TimelineDay[], series: { name: string; colour: string; value: (d: TimelineDay) => number | null }[]): string {
  const w = 640;
  const h = 160;
  const x = (i: number) => 30 + (i * (w - 40)) / Math.max(1, timeline.length - 1);
  const y = (v: number) => h - 20 - v * (h - 30);
  const lines = series.map((s) => {
    const pts = timeline.flatMap((d, i) => (s.value(d) === null ? [] : [`${x(i).toFixed(1)},${y(s.value(d)!).toFixed(1)}`]));
    return `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${pts.join(' ')}"/><text x="${w - 150}" y="${14 + 14 * series.indexOf(s)}" fill="${s.colour}">${esc(s.name)}</text>`;
  });
  return `<svg width="${w}" height="${h}" role="img" aria-label="accuracy per day"><line x1="30" y1="${y(0)}" x2="${w - 10}" y2="${y(0)}" stroke="#999"/><text x="0" y="${y(1) + 4}">100%</text><text x="0" y="${y(0.5) + 4}">50%</text>${lines.join('')}</svg>`;
}

export function timelinePage(model: string, timeline: readonly TimelineDay[], figures: OperateFigures, sources: readonly string[]): string {
  const rows = timeline.map((d) => {
    const verdicts = d.verdicts.map((v) => `v${v.version}: ${v.drift ? '<b>drift</b>' : 'ok'} (${esc(v.action)})`).join('<br>');
    const swaps = d.swaps.map((s) => `v${s.from} → v${s.version}`).join(', ');
    const served = Object.entries(d.servedVersions).map(([v, n]) => `v${v}×${n}`).join(' ');
    return `<tr><td>${d.day}</td><td>${d.increment}</td><td>${pct(d.shiftShare)}</td><td>${served}</td><td>${d.requests} (${d.failedRequests} failed)</td><td>${d.labelsImported}</td>${cell(d.overall)}${sources.map((s) => cell(d.bySource[s])).join('')}<td>${verdicts}</td><td>${swaps}</td></tr>`;
  });
  const shifted = sources[1];
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(model)}: simulated operation</title>
<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}</style></head><body>
<h1>${esc(model)}: ${timeline.length} simulated days</h1>
<pre>${esc(JSON.stringify(figures, null, 1))}</pre>
${chart(timeline, [
  { name: 'true accuracy, all', colour: '#333', value: (d) => d.overall.truth },
  { name: 'estimated (CBPE), all', colour: '#c60', value: (d) => d.overall.estimated },
  { name: `true, ${shifted ?? ''}`, colour: '#06c', value: (d) => (shifted ? (d.bySource[shifted]?.truth ?? null) : null) },
])}
<p>Accuracy cells: realized on late labels / CBPE estimate (⚠ alert) / on every image's own label.</p>
<table><tr><th>day</th><th>increment</th><th>shifted share</th><th>served</th><th>requests</th><th>labels in</th><th>all</th>${sources.map((s) => `<th>${esc(s)}</th>`).join('')}<th>drift verdicts</th><th>swaps</th></tr>
${rows.join('\n')}</table></body></html>
`;
}
