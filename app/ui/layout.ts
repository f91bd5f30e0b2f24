import { type Html, html } from './html';

export interface PageOptions {
  readonly title: string;
  /** Which navigation entry is current. */
  readonly section: 'runs' | 'experiments' | 'registry' | 'serving' | 'operations' | 'labelling';
  readonly body: Html;
  /** Asset names from the asset table (assets.ts) to load as scripts, in order. */
  readonly scripts?: readonly string[];
  readonly styles?: readonly string[];
  readonly store: string;
  readonly readOnly: boolean;
  /** True when this browser holds the write token. */
  readonly canWrite: boolean;
}

const sections = [
  ['runs', '/runs', 'Runs'],
  ['experiments', '/experiments', 'Experiments'],
  ['registry', '/registry', 'Registry'],
  ['serving', '/serving', 'Serving and drift'],
  ['operations', '/operations', 'Operations'],
  ['labelling', '/labelling', 'Labelling'],
] as const;

/** The page around every view: navigation, the store, whether writes are possible. */
export function page(options: PageOptions): string {
  const mode = options.readOnly ? 'read-only' : options.canWrite ? 'writes allowed (token held)' : 'read-only until you open the start-up URL with its token';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · dagwright</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/app.css">
${(options.styles ?? []).map((s) => html`<link rel="stylesheet" href="/assets/${s}">`)}
</head><body data-can-write="${options.canWrite && !options.readOnly ? 'yes' : 'no'}">
<header><a class="brand" href="/runs">dagwright</a>
<nav>${sections.map(([key, href, label]) => html`<a href="${href}"${key === options.section ? html` class="current" aria-current="page"` : ''}>${label}</a>`)}</nav>
<span class="store" title="the store this UI reads">${options.store}</span><span class="mode">${mode}</span></header>
<main>${options.body}</main>
${(options.scripts ?? []).map((s) => html`<script src="/assets/${s}"></script>`)}
</body></html>`.text;
}

/** A status as a coloured label. */
export function statusBadge(status: string): Html {
  return html`<span class="status status-${status.replace(/[^a-z]/g, '')}">${status}</span>`;
}

export function seconds(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function shortTime(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

export function formatNumber(value: number | undefined): string {
  if (value === undefined) return '-';
  if (Number.isNaN(value)) return 'NaN';
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}
