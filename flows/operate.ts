/**
 * A simulated month of operating the MNIST model: the whole life cycle
 * against a simulated clock (a day is one turn of the loop, not 24 hours).
 *
 * Before day 1 the model's promotion contract is declared (MNIST test and
 * optdigits held-out, half each, 2-point guard rails). Each simulated day:
 *
 *   1. an MNIST increment arrives (day n: increment n) and the routine
 *      register flow (flows/register.ts) runs under the contract;
 *   2. labels due today arrive: for a share `labelShare` of the predictions
 *      made `labelDelay` days ago, the images' own labels stand in for the
 *      person and are imported by prediction id (importLabels); they also
 *      become a labelled batch the drift retraining can train on;
 *   3. `traffic` images are sent over HTTP to a real model server
 *      (in this process, 127.0.0.1); from day `shiftDay` a growing share
 *      comes from a shifted source (optdigits, its labelled 60%: the
 *      contract scores on the other 40%);
 *   4. the drift monitor flow (flows/monitor.ts) runs after each of the day's
 *      `monitorsPerDay` slices of traffic (default once a simulated day; an
 *      hourly monitor is `--monitors-per-day 24`, 24 times the monitor cost).
 *      On drift it retrains on MNIST plus the labelled batches, and the
 *      contract decides whether `champion` moves; the server follows.
 *
 * Register and monitor are real flow runs through runFlow (steps in this
 * process), each one recorded in the store's run history (`dagwright runs list`).
 * At the end: <store>/operate/timeline.json and timeline.html, per day the
 * served versions, realized (late labels), CBPE-estimated and true accuracy
 * overall and per source, drift verdicts, swaps and requests.
 *
 *   npx ts-node flows/operate.ts --store ./data/operate                 # 30 days (tens of minutes)
 *   npx ts-node flows/operate.ts --store /tmp/op --days 6 --shift-day 3 --traffic 100 --increment-size 1000
 */
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { parseStore, runFlow, UsageError } from '../src';
import { createLogger, registerTaskClasses } from '../src/public/runtime';
import { DriftCheck } from '../tasks/drift/check-task';
import { RegisterRetrained } from '../tasks/mnist/retrain-task';
import { incrementCount } from '../tasks/mnist/increments';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import { mulberry32 } from '../tasks/data/seeded-random';
import { MNIST_PIXELS } from '../tasks/data/mnist-format';
import { cbpeFromReference, type CbpeCalibration } from '../tasks/drift/cbpe';
import { readMnist, readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { concatImages, type ImageBatch, pickImages, sampleImages } from '../tasks/drift/sources/image-batch';
import { sendTraffic } from '../tasks/drift/traffic';
import { importLabels, readLateLabels } from '../tasks/labels/late-labels';
import { declareContract } from '../tasks/registry/promotion-contract';
import { ModelRegistry } from '../tasks/registry/registry';
import { readPredictionLog, serveModel } from '../tasks/serving';
import type { ModelServer } from '../tasks/serving/model-server';
import { fileAt } from '../tasks/store';
import { driftReferenceDirectory, readLatestSummary } from '../tasks/store-layout';
import { monitorFlow } from './monitor';
import { timelinePage } from './operate-page';
import { buildTimeline, type DayInput, type MonitorVerdict, operateFigures, type OperateFigures, type SimulatedPrediction, type TimelineDay } from './operate-timeline';
import { registerFlow } from './register';

export interface OperateOptions {
  readonly store: string;
  readonly days?: number;
  /** First day with shifted traffic; its share grows by `shiftStep` a day up to `maxShift`. */
  readonly shiftDay?: number;
  readonly shiftStep?: number;
  readonly maxShift?: number;
  /** Images sent a day. */
  readonly traffic?: number;
  readonly monitorsPerDay?: number;
  /** Share of predictions that get a label, and the days until it arrives. */
  readonly labelShare?: number;
  readonly labelDelay?: number;
  /** Training images per MNIST increment, and epochs of every training. */
  readonly incrementSize?: number;
  readonly epochs?: number;
  /** Share of each increment held out for validation: also the version's drift reference and CBPE calibration images. */
  readonly validationFraction?: number;
  readonly logger?: Logger;
}

export interface OperateResult {
  readonly timeline: TimelineDay[];
  readonly figures: OperateFigures;
  readonly files: { json: string; html: string };
  /** Flow runs recorded in the store's run history, by flow name. */
  readonly runs: Record<string, number>;
}

export const MODEL = 'mnist-digits';
export const IN_DIST = 'mnist-test';
export const SHIFTED = 'optdigits:labelled';
const CONTRACT = {
  sources: [
    { source: 'mnist-test', weight: 0.5, maxDropPoints: 2 },
    { source: 'optdigits:heldout', weight: 0.5, maxDropPoints: 2 },
  ],
  metric: 'accuracy',
  minMargin: 0.002,
  reason: 'flows/operate.ts: optdigits traffic counts as much as MNIST',
};
const MAX_DROP = 0.05;

type Settings = Required<Omit<OperateOptions, 'logger'>> & { logger: Logger };

function settingsOf(options: OperateOptions): Settings {
  const s = {
    days: 30, shiftDay: 10, shiftStep: 0.1, maxShift: 0.5, traffic: 300, monitorsPerDay: 1, labelShare: 0.5, labelDelay: 2, incrementSize: 2000, epochs: 1, validationFraction: 0.2,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    store: parseStore(options.store).uri,
    logger: options.logger ?? createLogger({ level: 'info' }),
  } as Settings;
  const bad = (what: string) => {
    throw new UsageError(`${what}. Run flows/operate.ts --help for the options.`);
  };
  if (!(Number.isInteger(s.days) && s.days >= 1)) bad(`--days got ${s.days}; expected an integer >= 1`);
  if (!(s.labelShare > 0 && s.labelShare <= 1)) bad(`--label-share got ${s.labelShare}; expected a share in (0, 1]`);
  if (!(Number.isInteger(s.labelDelay) && s.labelDelay >= 0)) bad(`--label-delay got ${s.labelDelay}; expected whole days >= 0`);
  if (!(Number.isInteger(s.monitorsPerDay) && s.monitorsPerDay >= 1 && s.traffic / s.monitorsPerDay >= 2)) bad(`--monitors-per-day got ${s.monitorsPerDay}; expected an integer >= 1 leaving each monitor at least 2 images of --traffic`);
  if (!(s.maxShift >= 0 && s.maxShift <= 1 && s.shiftStep >= 0)) bad('--max-shift must be a share in [0, 1] and --shift-step >= 0');
  if (!(s.validationFraction >= 0.001 && s.validationFraction <= 0.5)) bad(`--validation-fraction got ${s.validationFraction}; expected 0.001..0.5`);
  if (incrementCount(s.incrementSize) < 1 || s.incrementSize < 100) bad(`--increment-size got ${s.incrementSize}; expected 100..60000`);
  return s;
}

/** The share of the day's traffic from the shifted source. */
export const shiftShare = (s: Pick<Settings, 'shiftDay' | 'shiftStep' | 'maxShift'>, day: number) => (day < s.shiftDay ? 0 : Math.min(s.maxShift, s.shiftStep * (day - s.shiftDay + 1)));

/** One run of a routine flow in this process; its run is recorded in the store's history. Throws naming the flow when it fails. */
async function runRoutine(flow: Parameters<typeof runFlow>[0] & { name: string }, args: string[], s: Settings, runs: Record<string, number>): Promise<void> {
  const argv = [...args, '--store', s.store, '--executor', 'inprocess', '--log-level', s.logger.level === 'silent' ? 'error' : 'warn'];
  const code = await runFlow(flow, { argv, exit: false });
  runs[flow.name] = (runs[flow.name] ?? 0) + 1;
  if (code !== 0) throw new Error(`the ${flow.name} flow exited ${code} (arguments ${argv.join(' ')}); its run record is in ${s.store}/_runs`);
}

interface PendingLabel {
  readonly due: number;
  readonly id: string;
  readonly label: number;
  readonly pixels: Uint8Array;
}

/** What the loop keeps between days. */
interface LoopState {
  readonly s: Settings;
  readonly sources: { inDist: ImageBatch; shifted: ImageBatch };
  readonly runs: Record<string, number>;
  readonly predictions: SimulatedPrediction[];
  readonly verdicts: MonitorVerdict[];
  readonly days: DayInput[];
  pending: PendingLabel[];
  logged: number;
}

/** Labels due by `day`: imported by prediction id, and written as a labelled batch for retraining. */
async function deliverLabels(state: LoopState, day: number): Promise<number> {
  const due = state.pending.filter((p) => p.due <= day);
  state.pending = state.pending.filter((p) => p.due > day);
  if (due.length === 0) return 0;
  const result = await importLabels(state.s.store, MODEL, due.map(({ id, label }) => ({ id, label })), `flows/operate.ts: source labels, day ${day}`);
  const pixels = new Uint8Array(due.length * MNIST_PIXELS);
  due.forEach((p, i) => pixels.set(p.pixels, i * MNIST_PIXELS));
  await writeLabelledBatch(state.s.store, `operate-day-${day}`, { pixels, labels: Uint8Array.from(due, (p) => p.label), source: `late labels imported on simulated day ${day}` });
  return result.added;
}

/** The day's images: MNIST test and the shifted source mixed by the day's share; `sources[i]` names image i's source. */
function dayImages(state: LoopState, day: number): { images: ImageBatch; sources: string[] } {
  const { traffic } = state.s;
  const shifted = Math.round(traffic * shiftShare(state.s, day));
  const a = sampleImages(state.sources.inDist, traffic - shifted, 1000 + day);
  const b = sampleImages(state.sources.shifted, shifted, 2000 + day);
  const order = Array.from({ length: traffic }, (_, i) => i);
  const random = mulberry32(3000 + day);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const all = concatImages(`day ${day}`, [a, b]);
  return { images: pickImages(all, order), sources: order.map((k) => (k < a.count ? IN_DIST : SHIFTED)) };
}

async function waitForLog(state: LoopState, count: number): Promise<Awaited<ReturnType<typeof readPredictionLog>>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const log = await readPredictionLog(state.s.store, MODEL);
    if (log.length >= count) return log;
    if (Date.now() > deadline) throw new Error(`the prediction log holds ${log.length} records after 30 s; expected ${count}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends one slice of the day's traffic and records its predictions (joined to their images by the request id). */
async function sendSlice(state: LoopState, server: ModelServer, day: number, slice: ImageBatch, sources: string[]): Promise<{ requests: number; failed: number }> {
  const result = await sendTraffic({ url: server.url, model: MODEL, images: slice, concurrency: 4 });
  const log = await waitForLog(state, state.logged + slice.count - result.failed);
  for (const record of log.slice(state.logged)) {
    // sendTraffic names each one-image request traffic-<start>-<index in the batch sent>.
    const index = Number(/-(\d+)$/.exec(record.requestId)?.[1]);
    if (!(index >= 0 && index < slice.count)) throw new Error(`prediction ${record.requestId} does not name an image of the slice sent`);
    const truth = slice.labels![index];
    state.predictions.push({ day, source: sources[index], truth, record });
    if (mulberry32(day * 1_000_003 + index + state.logged)() < state.s.labelShare)
      state.pending.push({ due: day + state.s.labelDelay, id: record.requestId, label: truth, pixels: slice.pixels.slice(index * MNIST_PIXELS, (index + 1) * MNIST_PIXELS) });
  }
  state.logged = log.length;
  return { requests: result.requests, failed: result.failed };
}

/** Traffic in `monitorsPerDay` slices, the monitor flow after each. */
async function trafficAndMonitors(state: LoopState, server: ModelServer, day: number, increment: number): Promise<{ requests: number; failed: number }> {
  const { images, sources } = dayImages(state, day);
  const per = Math.ceil(images.count / state.s.monitorsPerDay);
  let requests = 0;
  let failed = 0;
  for (let start = 0; start < images.count; start += per) {
    const indices = Array.from({ length: Math.min(per, images.count - start) }, (_, i) => start + i);
    const sent = await sendSlice(state, server, day, pickImages(images, indices), indices.map((i) => sources[i]));
    requests += sent.requests;
    failed += sent.failed;
    const s = state.s;
    await runRoutine(monitorFlow, ['--model-name', MODEL, '--last', String(indices.length), '--cooldown-minutes', '0', '--train-increment', String(increment), '--train-increment-size', String(s.incrementSize), '--train-epochs', String(s.epochs)], s, state.runs);
    const latest = await readLatestSummary(s.store, MODEL);
    if (latest) state.verdicts.push({ day, version: latest.version, drift: latest.drift, action: latest.drift ? 'drift' : 'no drift' });
  }
  return { requests, failed };
}

/** The server serves the champion before the day's traffic (it follows the alias within its poll interval). */
async function awaitChampion(server: ModelServer, champion: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (server.version !== champion) {
    if (Date.now() > deadline) throw new Error(`the server still serves version ${server.version} 60 s after champion moved to ${champion}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function simulateDay(state: LoopState, serverRef: { server?: ModelServer }, day: number): Promise<void> {
  const { s } = state;
  const startedAt = new Date().toISOString();
  const increment = ((day - 1) % incrementCount(s.incrementSize)) + 1;
  await runRoutine(registerFlow, ['--model-name', MODEL, '--increment', String(increment), '--increment-size', String(s.incrementSize), '--epochs', String(s.epochs), '--validation-fraction', String(s.validationFraction)], s, state.runs);
  serverRef.server ??= await serveModel({ store: s.store, model: MODEL, port: 0, pollMs: 200, predictionLog: { chunkRecords: 50, chunkMaxAgeMs: 100 }, logger: s.logger.child({ part: 'server' }) });
  const labelsImported = await deliverLabels(state, day);
  const registry = new ModelRegistry(s.store, MODEL);
  await awaitChampion(serverRef.server, (await registry.resolve('champion')).version);
  const sent = await trafficAndMonitors(state, serverRef.server, day, increment);
  const champion = (await registry.resolve('champion')).version;
  state.days.push({ day, increment, shiftShare: shiftShare(s, day), requests: sent.requests, failedRequests: sent.failed, labelsImported, champion, startedAt, endedAt: new Date().toISOString() });
  const v = state.verdicts.filter((x) => x.day === day);
  s.logger.info({ day, increment, champion, served: serverRef.server.version, drift: v.some((x) => x.drift), labelsImported }, `operate: day ${day} done`);
}

/** CBPE calibrations of every version that served and has a drift reference (the monitor makes it). */
async function calibrationsOf(store: string, predictions: readonly SimulatedPrediction[]): Promise<Map<number, CbpeCalibration>> {
  const calibrations = new Map<number, CbpeCalibration>();
  for (const version of new Set(predictions.map((p) => p.record.version))) {
    const reference = driftReferenceDirectory(store, MODEL, version);
    if (await reference.exists()) calibrations.set(version, await cbpeFromReference(reference));
  }
  return calibrations;
}

/** Runs the simulated month (see the module comment); the server is stopped before it resolves. */
export async function runOperate(options: OperateOptions): Promise<OperateResult> {
  const s = settingsOf(options);
  registerTaskClasses(DriftCheck, RegisterRetrained);
  const registry = new ModelRegistry(s.store, MODEL);
  await declareContract(registry, CONTRACT);
  const [inDist, { labelled }] = await Promise.all([readMnist('t10k'), readOptdigitsSplit()]);
  const state: LoopState = { s, sources: { inDist, shifted: { ...labelled, name: SHIFTED } }, runs: {}, predictions: [], verdicts: [], days: [], pending: [], logged: (await readPredictionLog(s.store, MODEL)).length };
  const serverRef: { server?: ModelServer } = {};
  try {
    for (let day = 1; day <= s.days; day++) await simulateDay(state, serverRef, day);
  } finally {
    await serverRef.server?.stop();
  }
  return writeTimeline(state, registry);
}

async function writeTimeline(state: LoopState, registry: ModelRegistry): Promise<OperateResult> {
  const { s } = state;
  const decisions = await registry.aliasDecisions();
  const late = new Map((await readLateLabels(s.store, MODEL)).map((l) => [l.id, l.label]));
  const timeline = buildTimeline({ days: state.days, predictions: state.predictions, labels: late, calibrations: await calibrationsOf(s.store, state.predictions), verdicts: state.verdicts, decisions, maxDrop: MAX_DROP });
  const figures = operateFigures(timeline, decisions, s.shiftDay, SHIFTED, IN_DIST);
  const json = fileAt(s.store, 'operate', 'timeline.json');
  const html = fileAt(s.store, 'operate', 'timeline.html');
  await json.writeJson({ model: MODEL, settings: { ...s, logger: undefined }, figures, runs: state.runs, timeline });
  await html.writeText(timelinePage(MODEL, timeline, figures, [IN_DIST, SHIFTED]));
  return { timeline, figures, files: { json: json.uri, html: html.uri }, runs: state.runs };
}

const usage = `usage: npx ts-node flows/operate.ts [options]

A simulated month: each simulated day an MNIST increment and the routine register flow (under the
promotion contract), late labels, HTTP traffic with a growing optdigits share, the drift monitor flow.
Writes <store>/operate/timeline.json and timeline.html and prints the figures as one JSON line.

options:
  --store <folder|s3://...>   where everything is kept (default ./data/operate)
  --days <n>                  simulated days (default 30)
  --shift-day <n>             first day with optdigits traffic (default 10)
  --shift-step <share>        its share grows by this a day (default 0.1) ...
  --max-shift <share>         ... up to this (default 0.5)
  --traffic <n>               images sent a day (default 300)
  --monitors-per-day <n>      monitor runs a day, each after its slice of traffic (default 1; 24 = hourly)
  --label-share <p>           share of predictions labelled (default 0.5) ...
  --label-delay <d>           ... d simulated days later (default 2)
  --increment-size <n>        MNIST training images per increment (default 2000)
  --epochs <n>                epochs of every training (default 1)
  --validation-fraction <f>   share of each increment held out (default 0.2): the drift reference and the
                              CBPE calibration (the flows' 0.05 leaves 100 images at 2,000 an increment:
                              a noisy reference that raised drift on pure MNIST traffic)
  --help                      show this help
`;

const numericOptions = ['days', 'shift-day', 'shift-step', 'max-shift', 'traffic', 'monitors-per-day', 'label-share', 'label-delay', 'increment-size', 'epochs', 'validation-fraction'] as const;

/** The command line as options; a bad one is a usage error naming it. */
export function parseOperateArgs(argv: readonly string[]): OperateOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: { store: { type: 'string', default: './data/operate' }, help: { type: 'boolean', default: false }, ...Object.fromEntries(numericOptions.map((o) => [o, { type: 'string' as const }])) } }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run with --help for the options.`);
  }
  if (values.help) return 'help';
  const numbers: Record<string, number> = {};
  for (const o of numericOptions) {
    if (values[o] === undefined) continue;
    const n = Number(values[o]);
    if (!Number.isFinite(n)) throw new UsageError(`--${o} got "${values[o]}"; expected a number.`);
    numbers[o.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = n;
  }
  return { store: values.store as string, ...numbers };
}

async function main(): Promise<void> {
  const options = parseOperateArgs(process.argv.slice(2));
  if (options === 'help') return void process.stdout.write(usage);
  const result = await runOperate(options);
  process.stderr.write(`timeline: ${result.files.json}\npage: ${result.files.html}\n`);
  process.stdout.write(`${JSON.stringify(result.figures)}\n`);
}

if (require.main === module)
  main().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`${err instanceof UsageError ? `error: ${err.message}` : (err.stack ?? err.message)}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
