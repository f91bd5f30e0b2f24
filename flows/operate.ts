/**
 * A simulated month of operating the MNIST model: the whole life cycle
 * against a simulated clock (a day is one turn of the loop, not 24 hours).
 *
 * Before day 1 the model's promotion contract is declared (the held-out
 * halves of MNIST's test set and of optdigits, half each, 2-point guard
 * rails). Traffic comes from the other parts (`mnist-test:labelled`,
 * `optdigits:labelled`): its late labels become training data, and an image
 * a model has learned must not be one the contract scores it on. Each
 * simulated day:
 *
 *   1. an MNIST increment arrives (day n: increment n) and the routine
 *      register flow (flows/register.ts) runs under the contract: by
 *      default (`warmStart`) it continues the day before's model on the
 *      day's new images and as many earlier ones replayed, each increment
 *      split on its own; without, new weights learn every increment so far;
 *   2. labels due today arrive: for a share `labelShare` of the predictions
 *      made `labelDelay` days ago, the images' own labels stand in for the
 *      person and are imported by prediction id (importLabels); they also
 *      become a labelled batch the drift retraining can train on;
 *   3. `traffic` images are sent over HTTP to a real model server
 *      (in this process, 127.0.0.1); from day `shiftDay` a growing share
 *      comes from a shifted source (optdigits);
 *   4. the drift monitor flow (flows/monitor.ts) runs after each of the day's
 *      `monitorsPerDay` slices of traffic (default 24: every simulated hour),
 *      each checking the last `traffic` predictions (a simulated day, sliding).
 *      On drift that costs accuracy (`retrainMinDrop`: realized on the newest
 *      late labels, or CBPE-estimated) it retrains: fine-tunes the champion
 *      on the labelled batches with `retrainMnist` MNIST images replayed, for
 *      `retrainEpochs`; the contract decides whether `champion` moves; the
 *      server follows.
 *
 * Register and monitor are real flow runs through runFlow (steps in this
 * process), each one recorded in the store's run history (`dagwright runs list`).
 * The days drive their parts (server, routine runs, traffic) through one
 * interface (operate-parts.ts): in this process (operate-inprocess.ts), or,
 * with `--chaos`, as processes SIGKILLed at seeded random moments and
 * restarted as cron and a supervisor would (operate-chaos.ts), after a
 * reference month without kills (runChaosMonth).
 * At the end: <store>/operate/timeline.json and timeline.html, per day the
 * served versions, realized (late labels), CBPE-estimated and true accuracy
 * overall and per source, drift verdicts, swaps and requests.
 *
 *   npx ts-node flows/operate.ts --store ./data/operate                 # 30 days (tens of minutes)
 *   npx ts-node flows/operate.ts --store /tmp/op --days 6 --shift-day 3 --traffic 100 --increment-size 1000
 *   npx ts-node flows/operate.ts --store /tmp/op-chaos --chaos --seed 3    # the month under random kills, vs. without
 */
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { parseStore, UsageError } from '../src';
import { createLogger, registerTaskClasses } from '../src/public/runtime';
import { DriftCheck } from '../tasks/drift/check-task';
import { RegisterRetrained } from '../tasks/mnist/retrain-task';
import { incrementCount } from '../tasks/mnist/increments';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import { mulberry32 } from '../tasks/data/seeded-random';
import { MNIST_PIXELS } from '../tasks/data/mnist-format';
import { cbpeFromReference, type CbpeCalibration } from '../tasks/drift/cbpe';
import { readMnistTestSplit, readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { concatImages, type ImageBatch, pickImages, sampleImages } from '../tasks/drift/sources/image-batch';
import { importLabels, readLateLabels } from '../tasks/labels/late-labels';
import { declareContract } from '../tasks/registry/promotion-contract';
import { ModelRegistry } from '../tasks/registry/registry';
import { fileAt } from '../tasks/store';
import { driftReferenceDirectory, readLatestSummary } from '../tasks/store-layout';
import { championDecisions, ChaosParts, type ChaosOptions, decisionMismatches, type Kill, type KilledPart, stuckClaims } from './operate-chaos';
import { DockerServerParts } from './operate-docker';
import { InProcessParts } from './operate-inprocess';
import { timelinePage } from './operate-page';
import { MODEL, type OperateParts, type Routine } from './operate-parts';
import { buildTimeline, type DayInput, type MonitorVerdict, operateFigures, type OperateFigures, type SimulatedPrediction, type TimelineDay } from './operate-timeline';

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
  /** Training images per MNIST increment, and epochs of the routine register's training. */
  readonly incrementSize?: number;
  readonly epochs?: number;
  /** The routine register continues the day before's model on the day's new images and as many earlier ones (true, the default), or trains new weights on every increment so far (false). */
  readonly warmStart?: boolean;
  /** Drift retraining: epochs of fine-tuning the champion, and the MNIST training images it replays beside the labelled batches. */
  readonly retrainEpochs?: number;
  readonly retrainMnist?: number;
  /** Drift retrains only when the serving version's realized or estimated accuracy fell this much below its reference (0: drift alone). */
  readonly retrainMinDrop?: number;
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

export { MODEL };
export const IN_DIST = 'mnist-test:labelled';
export const SHIFTED = 'optdigits:labelled';
const CONTRACT = {
  sources: [
    { source: 'mnist-test:heldout', weight: 0.5, maxDropPoints: 2 },
    { source: 'optdigits:heldout', weight: 0.5, maxDropPoints: 2 },
  ],
  metric: 'accuracy',
  minMargin: 0.002,
  reason: 'flows/operate.ts: optdigits traffic counts as much as MNIST',
};
const MAX_DROP = 0.05;
const REGISTER: Routine = { name: 'mnist-register', script: 'flows/register.ts' };
const MONITOR: Routine = { name: 'drift-monitor', script: 'flows/monitor.ts' };

type Settings = Required<Omit<OperateOptions, 'logger'>> & { logger: Logger };

function settingsOf(options: OperateOptions): Settings {
  const s = {
    days: 30, shiftDay: 10, shiftStep: 0.1, maxShift: 0.5, traffic: 300, monitorsPerDay: 24, labelShare: 0.5, labelDelay: 2, incrementSize: 2000, epochs: 1, warmStart: true, retrainEpochs: 3, retrainMnist: 4000, retrainMinDrop: 0.02, validationFraction: 0.2,
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
  if (!(s.retrainMinDrop >= 0 && s.retrainMinDrop <= 1)) bad(`--retrain-min-drop got ${s.retrainMinDrop}; expected a share in [0, 1]`);
  if (!(s.validationFraction >= 0.001 && s.validationFraction <= 0.5)) bad(`--validation-fraction got ${s.validationFraction}; expected 0.001..0.5`);
  if (incrementCount(s.incrementSize) < 1 || s.incrementSize < 100) bad(`--increment-size got ${s.incrementSize}; expected 100..60000`);
  if (!(Number.isInteger(s.retrainMnist) && s.retrainMnist >= 100 && s.retrainMnist <= 60_000)) bad(`--retrain-mnist got ${s.retrainMnist}; expected 100..60000 images`);
  for (const [option, n] of [['--epochs', s.epochs], ['--retrain-epochs', s.retrainEpochs]] as const) if (!(Number.isInteger(n) && n >= 1)) bad(`${option} got ${n}; expected an integer >= 1`);
  return s;
}

/** The share of the day's traffic from the shifted source. */
export const shiftShare = (s: Pick<Settings, 'shiftDay' | 'shiftStep' | 'maxShift'>, day: number) => (day < s.shiftDay ? 0 : Math.min(s.maxShift, s.shiftStep * (day - s.shiftDay + 1)));

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
  readonly parts: OperateParts;
  pending: PendingLabel[];
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

/** The day's images: in-distribution and shifted traffic mixed by the day's share; `sources[i]` names image i's source. */
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

/** Sends one slice of the day's traffic (images `offset`.. of the day) and records its predictions. */
async function sendSlice(state: LoopState, day: number, offset: number, slice: ImageBatch, sources: string[]): Promise<{ requests: number; failed: number }> {
  const sent = await state.parts.sendSlice(day, offset, slice);
  for (const { index, record } of sent.logged) {
    const truth = slice.labels![index];
    state.predictions.push({ day, source: sources[index], truth, record });
    // Which predictions get a label depends on the image's place in the day only, so a month under kills labels the same ones.
    if (mulberry32(day * 1_000_003 + offset + index)() < state.s.labelShare)
      state.pending.push({ due: day + state.s.labelDelay, id: record.requestId, label: truth, pixels: slice.pixels.slice(index * MNIST_PIXELS, (index + 1) * MNIST_PIXELS) });
  }
  return { requests: sent.requests, failed: sent.failed };
}

/**
 * Traffic in `monitorsPerDay` slices, the monitor flow after each on the last `traffic` predictions:
 * a day's worth, so an hourly check sees as many images as a daily one (a 12-image hour is too few
 * for the tests to see a 10% shift) and reacts within the hour to the labels that arrived.
 */
async function trafficAndMonitors(state: LoopState, day: number): Promise<{ requests: number; failed: number }> {
  const { s, parts } = state;
  const { images, sources } = dayImages(state, day);
  const per = Math.ceil(images.count / s.monitorsPerDay);
  const registry = new ModelRegistry(s.store, MODEL);
  let requests = 0;
  let failed = 0;
  for (let start = 0; start < images.count; start += per) {
    // The champion serves each slice (a retraining may have moved it after the last one).
    await parts.awaitVersion((await registry.resolve('champion')).version);
    const indices = Array.from({ length: Math.min(per, images.count - start) }, (_, i) => start + i);
    const sent = await sendSlice(state, day, start, pickImages(images, indices), indices.map((i) => sources[i]));
    requests += sent.requests;
    failed += sent.failed;
    // Retraining fine-tunes the champion on the labelled batches and replays the first `retrainMnist` MNIST images (one increment of that size).
    await runRoutine(state, MONITOR, ['--model-name', MODEL, '--last', String(s.traffic), '--cooldown-minutes', '0', '--train-increment', '1', '--train-increment-size', String(s.retrainMnist), '--train-epochs', String(s.retrainEpochs), '--retrain-min-drop', String(s.retrainMinDrop)]);
    const latest = await readLatestSummary(s.store, MODEL);
    if (latest) state.verdicts.push({ day, version: latest.version, drift: latest.drift, action: latest.drift ? 'drift' : 'no drift' });
  }
  return { requests, failed };
}

async function runRoutine(state: LoopState, routine: Routine, args: string[]): Promise<void> {
  await state.parts.runRoutine(routine, args);
  state.runs[routine.name] = (state.runs[routine.name] ?? 0) + 1;
}

async function simulateDay(state: LoopState, day: number): Promise<void> {
  const { s } = state;
  const startedAt = new Date().toISOString();
  const increment = ((day - 1) % incrementCount(s.incrementSize)) + 1;
  const training = s.warmStart ? ['--split-by', 'increment', '--warm-start'] : [];
  await runRoutine(state, REGISTER, ['--model-name', MODEL, '--increment', String(increment), '--increment-size', String(s.incrementSize), '--epochs', String(s.epochs), '--validation-fraction', String(s.validationFraction), ...training]);
  const labelsImported = await deliverLabels(state, day);
  const sent = await trafficAndMonitors(state, day);
  const champion = (await new ModelRegistry(s.store, MODEL).resolve('champion')).version;
  state.days.push({ day, increment, shiftShare: shiftShare(s, day), requests: sent.requests, failedRequests: sent.failed, labelsImported, champion, startedAt, endedAt: new Date().toISOString() });
  const v = state.verdicts.filter((x) => x.day === day);
  s.logger.info({ day, increment, champion, drift: v.some((x) => x.drift), labelsImported }, `operate: day ${day} done`);
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

/**
 * Runs the simulated month (see the module comment) with its parts in this
 * process, or with those `partsFor` makes (operate-chaos.ts: child processes
 * killed at random); they are stopped before it resolves.
 */
export async function runOperate(options: OperateOptions, partsFor: (store: string, logger: Logger) => OperateParts = partsAt('inprocess')): Promise<OperateResult> {
  const s = settingsOf(options);
  registerTaskClasses(DriftCheck, RegisterRetrained);
  const registry = new ModelRegistry(s.store, MODEL);
  await declareContract(registry, CONTRACT);
  const [mnist, optdigits] = await Promise.all([readMnistTestSplit(), readOptdigitsSplit()]);
  const parts = partsFor(s.store, s.logger);
  const state: LoopState = { s, parts, sources: { inDist: mnist.labelled, shifted: optdigits.labelled }, runs: {}, predictions: [], verdicts: [], days: [], pending: [] };
  try {
    for (let day = 1; day <= s.days; day++) await simulateDay(state, day);
  } finally {
    await parts.stop();
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

export interface ChaosFigures {
  readonly kills: number;
  readonly kills_by_part: Record<KilledPart, number>;
  /** Answered predictions neither logged nor in a killed server's open chunk: must be 0. */
  readonly lost_predictions: number;
  /** Answered by a server that was then SIGKILLed before its open prediction-log chunk was published (the documented loss; sent again). */
  readonly open_chunk_predictions: number;
  /** Requests that failed while the server was up (0), and those cut by kills of the server itself. */
  readonly failed_requests: number;
  readonly failed_requests_server_kills: number;
  readonly server_crashes: number;
  /** Drift events left 'deciding' and retrain claims left unfinished at the end: 0. */
  readonly stuck_claims: number;
  /** Champion decisions that differ from the month without kills: 0. */
  readonly decision_mismatches: number;
  /** Days whose served versions or true accuracy per source differ from the month without kills: 0. */
  readonly timeline_mismatches: number;
  /** The served version reached 95% on the shifted source (days from the shift), and in the month without kills. */
  readonly days_to_recover: number | null;
  readonly reference_days_to_recover: number | null;
}

export interface ChaosMonth {
  readonly reference: OperateResult;
  readonly chaos: OperateResult;
  readonly kills: readonly Kill[];
  readonly decisions: { readonly reference: string[]; readonly chaos: string[] };
  readonly figures: ChaosFigures;
}

/** Small enough for a few minutes on two loaded cores, with the shift early enough to recover from. */
export const CHAOS_DEFAULTS = { days: 6, monitorsPerDay: 1, shiftDay: 3, shiftStep: 0.25, maxShift: 0.5, traffic: 100, labelDelay: 1, incrementSize: 1000 } as const;

/**
 * The month without kills in this process (`<store>/reference`), then the
 * same month as processes killed at random (`<store>/chaos`, operate-chaos.ts),
 * and what the kills changed.
 */
export async function runChaosMonth(options: OperateOptions, chaosOptions: ChaosOptions = {}): Promise<ChaosMonth> {
  const month = { ...CHAOS_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as OperateOptions;
  const root = parseStore(options.store).uri.replace(/\/$/, '');
  const reference = await runOperate({ ...month, store: `${root}/reference` });
  let parts: ChaosParts | undefined;
  const chaos = await runOperate({ ...month, store: `${root}/chaos` }, (store, logger) => (parts = new ChaosParts(store, logger, chaosOptions)));
  const decisions = { reference: await championDecisions(`${root}/reference`), chaos: await championDecisions(`${root}/chaos`) };
  const stuck = await stuckClaims(`${root}/chaos`);
  const { kills, traffic, serverCrashes } = parts!;
  const byPart = Object.fromEntries(['server', 'register', 'monitor', 'retrain'].map((p) => [p, kills.filter((k) => k.part === p).length])) as Record<KilledPart, number>;
  const figures: ChaosFigures = {
    kills: kills.length,
    kills_by_part: byPart,
    lost_predictions: traffic.lost,
    open_chunk_predictions: traffic.openChunk,
    failed_requests: traffic.failed,
    failed_requests_server_kills: traffic.failedOnKill,
    server_crashes: serverCrashes,
    stuck_claims: stuck.events.length + stuck.claims.length,
    decision_mismatches: decisionMismatches(decisions.reference, decisions.chaos),
    timeline_mismatches: timelineMismatches(reference.timeline, chaos.timeline),
    days_to_recover: chaos.figures.days_to_recover,
    reference_days_to_recover: reference.figures.days_to_recover,
  };
  return { reference, chaos, kills, decisions, figures };
}

/** Days on which other versions served, or served other answers (true accuracy per source), than in the reference month. */
function timelineMismatches(reference: readonly TimelineDay[], chaos: readonly TimelineDay[]): number {
  const served = (d: TimelineDay | undefined) => JSON.stringify([d?.servedVersions, Object.entries(d?.bySource ?? {}).map(([source, a]) => [source, a.truth]).sort()]);
  return Math.max(reference.length, chaos.length) - chaos.filter((d, i) => served(d) === served(reference[i])).length;
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
  --monitors-per-day <n>      monitor runs a day, each after its slice of traffic on the last --traffic predictions
                              (default 24: hourly)
  --label-share <p>           share of predictions labelled (default 0.5) ...
  --label-delay <d>           ... d simulated days later (default 2)
  --increment-size <n>        MNIST training images per increment (default 2000)
  --epochs <n>                epochs of the routine register's training (default 1)
  --from-scratch              the routine register trains new weights on all increments so far; by default it
                              continues the day before's model on the day's new images and as many earlier ones
                              (flows/register.ts --split-by increment --warm-start): a day costs two increments' training
  --retrain-epochs <n>        epochs of a drift retraining, which fine-tunes the champion (default 3)
  --retrain-mnist <n>         MNIST training images a retraining replays beside the labelled batches (default 4000)
  --retrain-min-drop <share>  drift retrains only when the serving version's accuracy on its newest labelled
                              predictions, or its CBPE estimate on the window, fell this much below its reference
                              accuracy (default 0.02; 0: drift alone retrains)
  --validation-fraction <f>   share of each increment held out (default 0.2): the drift reference and the
                              CBPE calibration (the flows' 0.05 leaves 100 images at 2,000 an increment:
                              a noisy reference that raised drift on pure MNIST traffic)
  --server inprocess|docker   where the model server runs: in this process (default), or in a Docker container
                              (dagwright/server, as dagwright deploy runs it, on a free 127.0.0.1 port; removed at the end)
  --chaos                     the month twice: in this process without kills (<store>/reference), then with every
                              part a process (dagwright serve; flows/register.ts and flows/monitor.ts as cron runs
                              them) SIGKILLed at seeded random moments and restarted (<store>/chaos); prints kills,
                              lost predictions, stuck claims and decision mismatches. Its defaults: --days 6
                              --monitors-per-day 1 --shift-day 3 --shift-step 0.25 --traffic 100 --label-delay 1
                              --increment-size 1000
  --seed <n>                  the kill plan's seed (default 1)
  --kill-rate <p>             with --chaos: the chance each server slice, run attempt and retraining is killed
                              (default 0.4; a monitor attempt is aimed at its retraining with chance 0.5)
  --max-kills-per-run <n>     with --chaos: a run is killed at most n times, then left to finish (default 2)
  --help                      show this help
`;

/** Where the model server runs: in this process, or in a Docker container (operate-docker.ts). */
export type ServerPlace = 'inprocess' | 'docker';

/** The command line: the month's options, where the server runs, and the kill plan with --chaos. */
export interface OperateCommand extends OperateOptions {
  readonly server?: ServerPlace;
  readonly chaos?: ChaosOptions;
}

/** The parts of a month whose server runs at `place`. */
export function partsAt(place: ServerPlace = 'inprocess'): (store: string, logger: Logger) => OperateParts {
  return place === 'docker' ? (store, logger) => new DockerServerParts(store, logger) : (store, logger) => new InProcessParts(store, logger);
}

const chaosOptions = ['seed', 'kill-rate', 'max-kills-per-run'] as const;
const numericOptions = ['days', 'shift-day', 'shift-step', 'max-shift', 'traffic', 'monitors-per-day', 'label-share', 'label-delay', 'increment-size', 'epochs', 'retrain-epochs', 'retrain-mnist', 'retrain-min-drop', 'validation-fraction'] as const;

/** The command line as options; a bad one is a usage error naming it. */
export function parseOperateArgs(argv: readonly string[]): OperateCommand | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = { store: { type: 'string', default: './data/operate' }, server: { type: 'string', default: 'inprocess' }, help: { type: 'boolean', default: false }, chaos: { type: 'boolean', default: false }, 'from-scratch': { type: 'boolean', default: false } } as const;
    ({ values } = parseArgs({ args: [...argv], options: { ...options, ...Object.fromEntries([...numericOptions, ...chaosOptions].map((o) => [o, { type: 'string' as const }])) } }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run with --help for the options.`);
  }
  if (values.help) return 'help';
  if (values.server !== 'inprocess' && values.server !== 'docker') throw new UsageError(`--server got "${values.server}"; expected inprocess or docker.`);
  if (values.chaos && values.server === 'docker') throw new UsageError('--chaos runs the server as a process of its own; leave out --server docker.');
  const numbers: Record<string, number> = {};
  for (const o of [...numericOptions, ...chaosOptions]) {
    if (values[o] === undefined) continue;
    const n = Number(values[o]);
    if (!Number.isFinite(n)) throw new UsageError(`--${o} got "${values[o]}"; expected a number.`);
    numbers[o.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = n;
  }
  const { seed, killRate, maxKillsPerRun, ...month } = numbers;
  if (!values.chaos && [seed, killRate, maxKillsPerRun].some((v) => v !== undefined)) throw new UsageError('--seed, --kill-rate and --max-kills-per-run go with --chaos.');
  if (killRate !== undefined && !(killRate >= 0 && killRate <= 1)) throw new UsageError(`--kill-rate got ${killRate}; expected a chance in [0, 1].`);
  if (maxKillsPerRun !== undefined && !(Number.isInteger(maxKillsPerRun) && maxKillsPerRun >= 0)) throw new UsageError(`--max-kills-per-run got ${maxKillsPerRun}; expected a whole number >= 0.`);
  const rates = killRate === undefined ? undefined : { server: killRate, register: killRate, monitor: killRate, retrain: killRate };
  return { store: values.store as string, server: values.server, ...(values['from-scratch'] ? { warmStart: false } : {}), ...month, ...(values.chaos ? { chaos: { seed, rates, maxKillsPerRun } } : {}) };
}

async function main(): Promise<void> {
  const command = parseOperateArgs(process.argv.slice(2));
  if (command === 'help') return void process.stdout.write(usage);
  const { chaos, server, ...options } = command;
  if (chaos) {
    // Through process.exit, so that the server and the run in progress (child processes) are killed too.
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.once(signal, () => process.exit(code));
    const month = await runChaosMonth(options, chaos);
    process.stderr.write(`timelines: ${month.reference.files.json}, ${month.chaos.files.json}\n`);
    return void process.stdout.write(`${JSON.stringify({ ...month.figures, kills_detail: month.kills })}\n`);
  }
  const result = await runOperate(options, partsAt(server));
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
