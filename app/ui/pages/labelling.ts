import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { writeLabelledBatch, LabelledBatchError } from '../../../tasks/data/labelled-batch';
import { DEFAULT_MODEL_NAME } from '../../../tasks/registry/registry';
import { type PredictionRecord, readPredictionLog, recordPixels } from '../../../tasks/serving/prediction-log/prediction-log';
import { type StoreLocation } from '../../../tasks/store';
import { readLatestSummary } from '../../../tasks/store-layout';
import { DamagedFileError } from '../../../src/store/stored-file';
import { allowWrite, firstString, sendPage, type UiContext } from '../context';
import { type Html, html, query } from '../html';
import { readSavedLabels, writeSavedLabels } from '../labelled-samples';
import { holdsToken } from '../security';
import { formatNumber, shortTime } from '../layout';
import { greyPngDataUri } from './digit-png';
import { modelNames } from './registry';

const modelName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** The model was unsure when its top class probability is below this. */
export const unsureBelow = 0.7;
const scanned = 5000;
const shown = 60;

interface Candidate {
  readonly record: PredictionRecord;
  readonly why: string;
}

/** The drift window of the latest report, when it flagged drift: the records it covered. */
async function flaggedWindow(store: StoreLocation, model: string, records: readonly PredictionRecord[], problems: string[]): Promise<Set<string>> {
  let latest;
  try {
    latest = await readLatestSummary(store, model);
  } catch (err) {
    if (!(err instanceof DamagedFileError)) throw err;
    problems.push(err.message);
    return new Set();
  }
  if (!latest?.drift) return new Set();
  const w: Record<string, unknown> = { ...latest.window };
  // Monitoring's window names its first and last record (from, to), else its bounds (since, until) or its size (last).
  const from = [w.from, w.since, w.start].find((v) => typeof v === 'string') as string | undefined;
  const to = [w.to, w.until, w.end].find((v) => typeof v === 'string') as string | undefined;
  const last = [w.last, w.count, w.size].find((v) => typeof v === 'number') as number | undefined;
  let inWindow = records.filter((r) => (!from || r.time >= from) && (!to || r.time <= to));
  if (!from && !to && last !== undefined) inWindow = records.slice(-last);
  return new Set(inWindow.map((r) => r.requestId));
}

/** Which records the queue takes: the serving version's (default) or every version's. */
export interface QueueOptions {
  /** Only records of the version serving now (the version of the newest record in the log); default every version. */
  readonly servingOnly?: boolean;
  /** Request ids already saved as labels: left out of the queue. */
  readonly saved?: ReadonlyMap<string, unknown>;
}

/** Samples worth a person's look: in a window drift flagged, or predicted with low confidence; least confident first. */
export async function labellingCandidates(store: StoreLocation, model: string, problems: string[] = [], options: QueueOptions = {}): Promise<{ queue: Candidate[]; savedLeftOut: number; otherVersions: number; serving?: number }> {
  const onDamaged = (d: { uri: string; lines: number }) => problems.push(`${d.uri}: ${d.lines} damaged line(s) skipped (half-written or not a prediction record); the other records were read.`);
  const records = await readPredictionLog(store, model, { last: scanned, onDamaged });
  const flagged = await flaggedWindow(store, model, records, problems);
  // What answers requests now, as the log itself says (an alias may have moved before the server swapped).
  const serving = records.reduce<PredictionRecord | undefined>((a, r) => (!a || r.time >= a.time ? r : a), undefined)?.version;
  const version = options.servingOnly ? serving : undefined;
  const out: Candidate[] = [];
  let savedLeftOut = 0;
  let otherVersions = 0;
  for (const record of records) {
    const top = Math.max(...record.probabilities);
    const unsure = top < unsureBelow;
    if (!unsure && !flagged.has(record.requestId)) continue;
    if (options.saved?.has(record.requestId)) {
      savedLeftOut++;
      continue;
    }
    if (version !== undefined && record.version !== version) {
      otherVersions++;
      continue;
    }
    out.push({ record, why: [flagged.has(record.requestId) ? 'drift window' : '', unsure ? `unsure (${formatNumber(top)})` : ''].filter(Boolean).join(', ') });
  }
  out.sort((a, b) => Math.max(...a.record.probabilities) - Math.max(...b.record.probabilities));
  return { queue: out.slice(0, shown), savedLeftOut, otherVersions, ...(serving === undefined ? {} : { serving }) };
}

function tokenGate(model: string): Html {
  return html`<form method="get" action="/labelling" id="token-form" class="notice"><p>Saving labels needs the write token this UI printed when it started. Enter it before you start, so no work is lost at Save.</p>
<input type="hidden" name="model" value="${model}"><label>token <input type="password" name="token" autocomplete="off" required size="50"></label> <button type="submit">Start labelling</button></form>`;
}

async function labellingPage(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const names = await modelNames(ctx.store).catch(() => [] as string[]);
  const raw = request.query as Record<string, unknown>;
  const asked = firstString(raw.model);
  const model = asked && modelName.test(asked) ? asked : names.includes(DEFAULT_MODEL_NAME) || names.length === 0 ? DEFAULT_MODEL_NAME : names[0];
  const allVersions = firstString(raw.versions) === 'all';
  const problems: string[] = [];
  const saved = await readSavedLabels(ctx.store, model);
  const { queue: candidates, savedLeftOut, otherVersions, serving } = await labellingCandidates(ctx.store, model, problems, { saved, servingOnly: !allVersions });
  const canWrite = !ctx.readOnly && holdsToken(request, ctx.token);
  const scope = allVersions || serving === undefined
    ? html`Predictions of every version. ${serving === undefined ? '' : html`<a id="only-serving" href="/labelling${query({ model })}">only the serving version (v${serving})</a>`}`
    : html`Predictions of the serving version v${serving} only (the version of the newest prediction)${otherVersions ? ` (${otherVersions} of replaced versions left out)` : ''}. <a id="all-versions" href="/labelling${query({ model, versions: 'all' })}">every version</a>`;
  const body = html`<h1>Labelling</h1>
${problems.map((p) => html`<p class="error damaged-file">${p}</p>`)}
<form method="get" action="/labelling" class="filters"><label>model <select name="model">${[...new Set([model, ...names])].map((n) => html`<option${n === model ? html` selected` : ''}>${n}</option>`)}</select></label><button type="submit">Show</button></form>
<p id="queue-scope">${scope}${savedLeftOut ? html` <span id="saved-left-out">${savedLeftOut} sample(s) already saved as labels are left out.</span>` : ''}</p>
${ctx.readOnly ? html`<p class="notice" id="read-only">This UI was started with --read-only: labels cannot be saved, so labelling is off.</p>` : canWrite ? '' : tokenGate(model)}
${candidates.length === 0
    ? html`<p class="notice" id="no-samples">No samples to label for ${model}: the prediction log (serving/${model}/predictions/) holds none that drift flagged or that the model was unsure of (top probability below ${unsureBelow})${savedLeftOut ? ' that is not labelled already' : ''}.</p>`
    : html`<p>Samples the drift checks flagged or the model was unsure of, least confident first. Keys: <kbd>0</kbd>-<kbd>9</kbd> label the highlighted image and move on, <kbd>s</kbd> or space skips, <kbd>u</kbd> or <kbd>Ctrl+Z</kbd> undoes the last label, <kbd>Backspace</kbd> goes back. Labelled samples are saved as a new data increment under <code>labels/</code> that retraining reads.</p>
<div class="samples${canWrite ? '' : ' locked'}" id="samples">${candidates.map(
        (c) => html`<div class="sample" data-request-id="${c.record.requestId}"><img alt="sample ${c.record.requestId}" src="${greyPngDataUri(recordPixels(c.record), c.record.shape[1] ?? 28, c.record.shape[0] ?? 28)}">
<div>model said <b>${c.record.label}</b> (v${c.record.version})</div><div class="why">${c.why}</div><div class="when">${shortTime(c.record.time)}</div><div class="given"></div></div>`,
      )}</div>
${canWrite ? html`<p><span id="label-count">0</span> labelled. <button type="button" id="undo-label">Undo</button> <button type="button" id="save-labels" data-action="/labelling/save" data-model="${model}">Save labels as a data increment</button></p>
<p id="save-result" role="status"></p>` : ''}`}`;
  return sendPage(ctx, request, reply, { title: 'Labelling', section: 'labelling', body, scripts: ['app.js'] });
}

/** Saves labels: pixels come from the prediction log itself (never from the browser), as one new labelled batch. */
async function saveLabels(ctx: UiContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!allowWrite(ctx, request, reply)) return reply;
  const body = (request.body ?? {}) as { model?: unknown; samples?: unknown };
  const model = typeof body.model === 'string' && modelName.test(body.model) ? body.model : undefined;
  if (!model) return reply.code(400).send({ error: 'model must be a model name.' });
  const samples = Array.isArray(body.samples) ? body.samples : [];
  const wanted = new Map<string, number>();
  for (const s of samples as { requestId?: unknown; label?: unknown }[]) {
    if (typeof s?.requestId !== 'string' || !Number.isInteger(s.label) || (s.label as number) < 0 || (s.label as number) > 9) {
      return reply.code(400).send({ error: 'each sample needs a requestId (string) and a label 0-9.' });
    }
    wanted.set(s.requestId, s.label as number);
  }
  if (wanted.size === 0) return reply.code(400).send({ error: 'no labelled samples: label some with the keys 0-9 first.' });
  const records = (await readPredictionLog(ctx.store, model, { last: scanned })).filter((r) => wanted.has(r.requestId) && r.shape.length === 2 && r.shape[0] * r.shape[1] === 784);
  const unique = [...new Map(records.map((r) => [r.requestId, r])).values()];
  if (unique.length < wanted.size) return reply.code(400).send({ error: `${wanted.size - unique.length} of the samples are not in the recent prediction log of ${model} (or are not 28x28).` });
  const pixels = new Uint8Array(unique.length * 784);
  unique.forEach((r, i) => pixels.set(recordPixels(r).subarray(0, 784), i * 784));
  const labels = Uint8Array.from(unique.map((r) => wanted.get(r.requestId)!));
  const batchId = `ui-${model}-${new Date().toISOString().replace(/[-:.]/g, '').replace('T', 't').toLowerCase()}`;
  try {
    const manifest = await writeLabelledBatch(ctx.store, batchId, { pixels, labels, source: `ui:prediction-log:${model}` });
    await writeSavedLabels(ctx.store, model, { batchId: manifest.batchId, time: new Date().toISOString(), samples: unique.map((r) => ({ requestId: r.requestId, label: wanted.get(r.requestId)! })) });
    ctx.logger?.info({ batchId, count: manifest.count }, 'labelled samples saved from the web UI');
    return reply.send({ batchId: manifest.batchId, count: manifest.count, files: manifest.files, requestIds: unique.map((r) => r.requestId) });
  } catch (err) {
    if (err instanceof LabelledBatchError) return reply.code(400).send({ error: err.message });
    throw err;
  }
}

export function registerLabelling(app: FastifyInstance, ctx: UiContext): void {
  app.get('/labelling', (request, reply) => labellingPage(ctx, request, reply));
  app.post('/labelling/save', (request, reply) => saveLabels(ctx, request, reply));
}
