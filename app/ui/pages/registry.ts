import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CHAMPION, type ModelVersion, ModelRegistry, RegistryError } from '../../../tasks/registry/registry';
import { promoteVersion } from '../../../tasks/registry/promotion';
import { imageSourceScorer } from '../../../tasks/drift/source-scorer';
import { directoryAt, listUnder, type StoreLocation } from '../../../tasks/store';
import { allowWrite, firstString, sendPage, sendProblem, type UiContext } from '../context';
import { type Html, html, jsonBlock } from '../html';
import { formatNumber, shortTime } from '../layout';
import { lineageGraph } from './lineage';

const modelName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Model names in `<store>/registry/`: those with at least one version record. */
export async function modelNames(store: StoreLocation): Promise<string[]> {
  const files = await listUnder(directoryAt(store, 'registry'));
  return [...new Set(files.map((f) => /^([^/]+)\/versions\/\d+\.json$/.exec(f)?.[1]).filter((m): m is string => m !== undefined && modelName.test(m)))].sort();
}

function numericMetrics(v: ModelVersion): [string, number][] {
  return Object.entries(v.metrics).filter((e): e is [string, number] => typeof e[1] === 'number');
}

async function registryIndex(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const names = await modelNames(ctx.store);
  const rows = await Promise.all(
    names.map(async (name) => {
      const registry = new ModelRegistry(ctx.store, name);
      const [versions, aliases] = await Promise.all([registry.versions(), registry.aliases()]);
      return html`<tr data-model="${name}"><td><a href="/registry/${name}">${name}</a></td><td class="num">${versions.length}</td><td>${Object.entries(aliases).map(([a, n]) => html`<code>${a} → v${n}</code> `)}</td></tr>`;
    }),
  );
  const body = html`<h1>Registry</h1>${names.length === 0 ? html`<p class="notice">No model is registered in this store yet (flows/register.ts registers one).</p>` : html`<table id="models"><thead><tr><th>model</th><th>versions</th><th>aliases</th></tr></thead><tbody>${rows}</tbody></table>`}`;
  return sendPage(ctx, request, reply, { title: 'Registry', section: 'registry', body });
}

function aliasForm(ctx: UiContext, model: string, versions: readonly ModelVersion[]): Html {
  if (ctx.readOnly) return html`<p>Read-only: aliases cannot be moved from this UI.</p>`;
  return html`<h2>Move an alias</h2>
<form method="post" action="/registry/${model}/alias" id="move-alias" class="filters">
<label>alias <input name="alias" value="champion" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*"></label>
<label>to version <select name="version">${[...versions].reverse().map((v) => html`<option value="${v.version}">v${v.version}</option>`)}</select></label>
<label>reason <input name="reason" size="40" placeholder="why (kept in the alias history)"></label>
<button type="submit">Move</button></form><p>Moving an alias is a write: it needs the token printed at start-up.</p>`;
}

async function modelPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { model } = request.params as { model: string };
  if (!modelName.test(model)) return sendProblem(ctx, request, reply, 404, 'No such model', `"${model}" is not a model name.`);
  const registry = new ModelRegistry(ctx.store, model);
  const [versions, aliases, history] = await Promise.all([registry.versions(), registry.aliases(), registry.aliasHistory()]);
  if (versions.length === 0) return sendProblem(ctx, request, reply, 404, 'No such model', `No model "${model}" is registered in this store.`);
  const metricKeys = [...new Set(versions.flatMap((v) => numericMetrics(v).map(([k]) => k)))].sort();
  const aliasesOf = (n: number) => Object.entries(aliases).filter(([, v]) => v === n).map(([a]) => a);
  const moved = firstString((request.query as Record<string, unknown>).moved);
  const body = html`<h1>Model ${model}</h1>
${moved ? html`<p class="notice" id="moved">Moved alias ${moved}.</p>` : ''}
<h2>Versions</h2><table id="versions"><thead><tr><th>version</th><th>aliases</th><th>created</th>${metricKeys.map((k) => html`<th>${k}</th>`)}<th>tags</th></tr></thead><tbody>
${[...versions].reverse().map((v) => html`<tr data-version="${v.version}"><td><a href="/registry/${model}/versions/${v.version}">v${v.version}</a></td><td>${aliasesOf(v.version).map((a) => html`<code>${a}</code> `)}</td>
<td>${shortTime(v.createdAt)}</td>${metricKeys.map((k) => html`<td class="num">${formatNumber(typeof v.metrics[k] === 'number' ? (v.metrics[k] as number) : undefined)}</td>`)}
<td>${Object.entries(v.tags).map(([k, t]) => html`<code>${k}=${t}</code> `)}</td></tr>`)}
</tbody></table>
<h2>Aliases</h2><table id="aliases"><tbody>${Object.entries(aliases).map(([a, n]) => html`<tr><th>${a}</th><td>v${n}</td></tr>`)}</tbody></table>
<h2>Alias history</h2><table id="alias-history"><thead><tr><th>when</th><th>alias</th><th>from</th><th>to</th><th>reason</th></tr></thead><tbody>
${[...history].reverse().map((h) => html`<tr><td>${shortTime(h.at)}</td><td>${h.alias}</td><td>${h.previous === null ? '-' : `v${h.previous}`}</td><td>v${h.version}</td><td>${h.reason}</td></tr>`)}
</tbody></table>
${aliasForm(ctx, model, versions)}`;
  return sendPage(ctx, request, reply, { title: model, section: 'registry', body });
}

async function versionPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { model, version } = request.params as { model: string; version: string };
  if (!modelName.test(model) || !/^\d{1,9}$/.test(version)) return sendProblem(ctx, request, reply, 404, 'No such version', 'Not a model name and version number.');
  let record: ModelVersion;
  try {
    record = await new ModelRegistry(ctx.store, model).version(Number(version));
  } catch (err) {
    if (err instanceof RegistryError) return sendProblem(ctx, request, reply, 404, 'No such version', err.message);
    throw err;
  }
  const body = html`<h1>${model} v${record.version}</h1>
<p><a href="/registry/${model}">all versions of ${model}</a></p>
<table class="facts"><tbody><tr><th>created</th><td>${shortTime(record.createdAt)}</td></tr><tr><th>content</th><td><code>sha256 ${record.contentSha256}</code></td></tr>
<tr><th>files</th><td>${Object.entries(record.files).map(([f, h]) => html`<div><code>${f}</code> <code>${h}</code></div>`)}</td></tr>
<tr><th>tags</th><td>${Object.entries(record.tags).map(([k, t]) => html`<code>${k}=${t}</code> `)}</td></tr>
<tr><th>metrics</th><td>${numericMetrics(record).map(([k, v]) => html`<div>${k}: ${formatNumber(v)}</div>`)}</td></tr></tbody></table>
<h2>Lineage</h2><p>From the model back to its training run, the data increment it learned from and that data's source files.</p>
<div class="graph" id="lineage" data-graph="lineage-data"></div>${jsonBlock('lineage-data', lineageGraph(record))}
<details><summary>lineage as recorded</summary><pre>${JSON.stringify(record.lineage, null, 2)}</pre></details>`;
  return sendPage(ctx, request, reply, { title: `${model} v${version}`, section: 'registry', body, scripts: ['dagre.js', 'app.js'] });
}

async function moveAlias(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!allowWrite(ctx, request, reply)) return reply;
  const { model } = request.params as { model: string };
  const form = (request.body ?? {}) as Record<string, unknown>;
  const alias = firstString(form.alias) ?? '';
  const version = Number(firstString(form.version));
  const reason = (firstString(form.reason) || 'moved in the web UI').slice(0, 500);
  if (!modelName.test(model)) return sendProblem(ctx, request, reply, 404, 'No such model', `"${model}" is not a model name.`);
  try {
    const registry = new ModelRegistry(ctx.store, model);
    if (alias === CHAMPION) {
      // champion moves only through the model's promotion contract, decided and recorded as on every other path.
      const { moved, verdict } = await promoteVersion(registry, version, { scorer: imageSourceScorer(), by: `the web UI (${reason})` });
      if (!moved) return sendProblem(ctx, request, reply, 409, 'Not promoted', verdict.reason);
    } else {
      await registry.setAlias(alias, version, reason);
    }
  } catch (err) {
    if (err instanceof RegistryError) return sendProblem(ctx, request, reply, err.kind === 'missing' ? 404 : 400, 'Alias not moved', err.message);
    throw err;
  }
  ctx.logger?.info({ model, alias, version }, 'alias moved from the web UI');
  return reply.redirect(`/registry/${model}?moved=${encodeURIComponent(alias)}`, 303);
}

export function registerRegistry(app: FastifyInstance, ctx: UiContext): void {
  app.get('/registry', (request, reply) => registryIndex(ctx, request, reply));
  app.get('/registry/:model', (request, reply) => modelPage(ctx, request, reply));
  app.get('/registry/:model/versions/:version', (request, reply) => versionPage(ctx, request, reply));
  app.post('/registry/:model/alias', (request, reply) => moveAlias(ctx, request, reply));
}
