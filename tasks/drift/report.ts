/**
 * The drift report: a JSON document (every test with its statistic, p-value,
 * threshold and decision; the window; the versions; histograms of reference
 * vs current) and a self-contained HTML page drawing it (inline CSS and SVG,
 * nothing fetched), and the short summary the server's /metrics and the UI
 * read (`<store>/monitoring/<model>/latest.json`).
 */
import type { CodeVersion } from '../code-version';
import type { DriftResult, DriftTestResult } from './checks';
import { predictedCounts } from './checks';
import { type DriftFeatures, IMAGE_STATISTICS } from './features';
import { rowEntropies } from './stats/entropy';

export interface Histogram {
  readonly name: string;
  /** Bin edges (bins + 1) for numeric features; category names for categorical ones. */
  readonly edges?: number[];
  readonly categories?: string[];
  /** Share of each side's rows in each bin. */
  readonly reference: number[];
  readonly current: number[];
}

/** Which images were checked. */
export interface DriftWindow {
  readonly kind: 'prediction-log' | 'source';
  readonly count: number;
  /** prediction-log: the newest `last` records at or before `until`, at or after `since`. */
  readonly last?: number;
  readonly since?: string;
  readonly until?: string;
  /** Time of the first and last record in the window. */
  readonly from?: string;
  readonly to?: string;
  /** source: its name, sample size and seed. */
  readonly source?: string;
  readonly seed?: number;
  /** Names this window: the de-duplication key of retraining. */
  readonly key: string;
  /** prediction-log: the model versions that answered the window's requests. */
  readonly servedBy?: number[];
  /** prediction-log: lines skipped as damaged (half-written), and the chunks holding them. */
  readonly damagedLines?: number;
  readonly damagedChunks?: string[];
}

export interface DriftReport {
  readonly formatVersion: 1;
  readonly time: string;
  readonly model: string;
  readonly version: number;
  readonly drift: boolean;
  readonly window: DriftWindow;
  readonly reference: { readonly count: number; readonly uri: string; readonly data: unknown };
  readonly tests: DriftTestResult[];
  /** Tests not run, and why. */
  readonly skipped?: DriftResult['skipped'];
  readonly options: DriftResult['options'];
  readonly histograms: Histogram[];
  readonly code: CodeVersion;
  readonly checkMs: number;
}

/** The contract's summary, `<store>/monitoring/<model>/latest.json`. */
export interface DriftSummary {
  readonly time: string;
  readonly model: string;
  readonly version: number;
  readonly drift: boolean;
  readonly window: DriftWindow;
  readonly tests: { name: string; statistic: number; pValue?: number; threshold: number; drift: boolean; decisive: boolean }[];
  readonly report: string;
  readonly html: string;
}

function numericHistogram(name: string, ref: ArrayLike<number>, cur: ArrayLike<number>, bins = 20): Histogram {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of [ref, cur]) for (let i = 0; i < a.length; i++) [lo, hi] = [Math.min(lo, a[i]), Math.max(hi, a[i])];
  if (!(hi > lo)) hi = lo + 1;
  const width = (hi - lo) / bins;
  const count = (a: ArrayLike<number>) => {
    const h = new Array<number>(bins).fill(0);
    for (let i = 0; i < a.length; i++) h[Math.min(bins - 1, Math.floor((a[i] - lo) / width))] += 1 / a.length;
    return h;
  };
  return { name, edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), reference: count(ref), current: count(cur) };
}

// Plain loops: Float32Array.from with a map function goes through the iterator protocol, tens of times slower.
function column(values: Float32Array, width: number, index: number): Float32Array {
  const out = new Float32Array(values.length / width);
  for (let r = 0; r < out.length; r++) out[r] = values[r * width + index];
  return out;
}

function maxProbability(f: DriftFeatures): Float32Array {
  const out = new Float32Array(f.count);
  for (let r = 0; r < f.count; r++) {
    let best = -Infinity;
    for (let c = r * f.classes; c < (r + 1) * f.classes; c++) best = Math.max(best, f.probabilities[c]);
    out[r] = best;
  }
  return out;
}

/** Histograms of what the tests compared: predicted classes, confidence, entropy and the image statistics. */
export function driftHistograms(reference: DriftFeatures, current: DriftFeatures): Histogram[] {
  const share = (counts: number[]) => counts.map((c) => c / Math.max(1, counts.reduce((a, b) => a + b, 0)));
  return [
    { name: 'predicted class', categories: Array.from({ length: reference.classes }, (_, i) => String(i)), reference: share(predictedCounts(reference)), current: share(predictedCounts(current)) },
    numericHistogram('confidence (max probability)', maxProbability(reference), maxProbability(current)),
    numericHistogram('prediction entropy', rowEntropies(reference.probabilities, reference.classes), rowEntropies(current.probabilities, current.classes)),
    ...IMAGE_STATISTICS.map((s, i) => numericHistogram(s, column(reference.imageStats, 4, i), column(current.imageStats, 4, i))),
  ];
}

/** The contract's summary of a report published at `reportUri` / `htmlUri`. */
export function summarise(report: DriftReport, reportUri: string, htmlUri: string): DriftSummary {
  return {
    time: report.time,
    model: report.model,
    version: report.version,
    drift: report.drift,
    window: report.window,
    tests: report.tests.map((t) => ({ name: t.name, statistic: t.statistic, ...(t.pValue === undefined ? {} : { pValue: t.pValue }), threshold: t.threshold, drift: t.drift, decisive: t.decisive ?? true })),
    report: reportUri,
    html: htmlUri,
  };
}

function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function formatNumber(v: number | undefined): string {
  if (v === undefined) return '–';
  if (v === 0) return '0';
  return Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5 ? v.toExponential(2) : v.toFixed(4);
}

function histogramSvg(h: Histogram): string {
  const [W, H, pad] = [360, 150, 24];
  const bins = h.reference.length;
  const top = Math.max(...h.reference, ...h.current, 1e-9);
  const bw = (W - 2 * pad) / bins;
  const bar = (v: number, i: number, cls: string, offset: number) =>
    `<rect class="${cls}" x="${(pad + i * bw + offset).toFixed(1)}" y="${(H - pad - (v / top) * (H - 2 * pad)).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${((v / top) * (H - 2 * pad)).toFixed(1)}"/>`;
  const bars = h.reference.map((v, i) => bar(v, i, 'ref', 0)).join('') + h.current.map((v, i) => bar(v, i, 'cur', bw / 2)).join('');
  const labels = h.categories
    ? h.categories.map((c, i) => `<text x="${(pad + (i + 0.5) * bw).toFixed(1)}" y="${H - 8}">${escapeHtml(c)}</text>`).join('')
    : `<text x="${pad}" y="${H - 8}">${formatNumber(h.edges![0])}</text><text x="${W - pad}" y="${H - 8}" text-anchor="end">${formatNumber(h.edges!.at(-1))}</text>`;
  return `<figure><figcaption>${escapeHtml(h.name)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(h.name)}">${bars}<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}"/>${labels}</svg></figure>`;
}

/** The report as one self-contained HTML page. */
export function renderReportHtml(report: DriftReport): string {
  const rows = report.tests
    .map((t) => `<tr class="${t.drift ? 'drift' : ''}"><td>${escapeHtml(t.name)}</td><td>${formatNumber(t.statistic)}</td><td>${formatNumber(t.pValue)}</td><td>${formatNumber(t.threshold)}</td><td>${t.drift ? 'drift' : 'no drift'}${t.decisive === false ? ' (advisory)' : ''}</td></tr>`)
    .join('');
  const w = report.window;
  const windowText = w.kind === 'prediction-log' ? `last ${w.count} predictions (${escapeHtml(w.from ?? '')} to ${escapeHtml(w.to ?? '')})` : `${w.count} images from ${escapeHtml(w.source ?? '')}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drift report: ${escapeHtml(report.model)} v${report.version}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}.verdict{font-weight:bold;padding:.3em .6em;border-radius:4px}
.yes{background:#fdd;color:#900}.no{background:#dfd;color:#060}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
tr.drift td{background:#fee}figure{display:inline-block;margin:.5em 1em .5em 0}figcaption{font-weight:bold}svg text{font-size:10px;fill:#555}
svg line{stroke:#888}rect.ref{fill:#4a7fc1}rect.cur{fill:#e8862a}.legend span{display:inline-block;width:12px;height:12px;margin:0 .3em 0 1em;vertical-align:middle}
</style></head><body>
<h1>Drift report: ${escapeHtml(report.model)} version ${report.version}</h1>
<p><span class="verdict ${report.drift ? 'yes' : 'no'}">${report.drift ? 'Drift detected' : 'No drift'}</span> at ${escapeHtml(report.time)}; window: ${windowText}; reference: ${report.reference.count} images.</p>
<table><thead><tr><th>test</th><th>statistic</th><th>p-value</th><th>threshold</th><th>decision</th></tr></thead><tbody>${rows}</tbody></table>
<p class="legend"><span style="background:#4a7fc1"></span>reference<span style="background:#e8862a"></span>current (share of images per bin)</p>
${report.histograms.map(histogramSvg).join('\n')}
<p><small>dagwright ${escapeHtml(report.code.version)} ${escapeHtml(report.code.gitCommit ?? '')}; check took ${report.checkMs} ms; window key ${escapeHtml(w.key)}</small></p>
</body></html>
`;
}
