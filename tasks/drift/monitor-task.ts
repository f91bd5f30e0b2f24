/**
 * One turn of the monitoring loop: the latest window (the prediction log up
 * to `until`, or a data source) is checked against the serving version's
 * reference; when it drifts, an event is recorded and retraining is started
 * at most once (see drift-events.ts: one event per window, whoever sees it;
 * one claim per retraining, however many monitors race):
 *
 *   <store>/monitoring/<model>/events/<window key>.json   one per drifted window
 *   <store>/monitoring/<model>/retrain-claims/<n>         the n-th retraining
 *   <store>/monitoring/<model>/monitor/<task id>.json     what this turn decided
 *
 * A new retraining starts only when the last one was claimed more than
 * `cooldownMinutes` ago, labelled data has arrived that the champion was
 * not trained on (labelled batches, or what the model's family counts as
 * new, e.g. a later MNIST increment), and, with `retrainMinDrop` set, the
 * serving version's accuracy has fallen by that much (performance-gate.ts):
 * drift that costs no accuracy is reported, not retrained on.
 *
 * What retraining is belongs to the model's family: it extends
 * `DriftMonitorTask` with `retrainTask` and `hasNewTrainingData` (MNIST's
 * monitor is tasks/mnist/monitor-task.ts), adding its retraining parameters.
 */
import { type AnyTask, directoryTarget, param, Task, type TaskContext } from '../../src';
import { type LabelledBatchManifest, listLabelledBatches } from '../data/labelled-batch';
import { CHAMPION, ModelRegistry, type ModelVersion } from '../registry/registry';
import { fileAt } from '../store';
import { checkWindowParams, DriftCheck, type DriftCheckParams, driftCheckParams, REPORT_JSON } from './check-task';
import { adoptRetrainClaim, type Decision, type DriftEvent, finishRetrainClaim, isOwn, lastRetrainClaim, recordDriftEvent, type RetrainClaim, takeRetrainClaim } from './drift-events';
import type { DriftReport } from './report';
import { readLogWindow } from './window';
import { DriftDataError } from './errors';
import { type PerformanceEvidence, performanceEvidence } from './performance-gate';

export interface DriftMonitorParams extends Omit<DriftCheckParams, 'version'> {
  version?: number;
  cooldownMinutes?: number;
  retrain?: boolean;
  retrainMinDrop?: number;
}

export const driftMonitorParams = {
  ...driftCheckParams,
  version: param.int({ min: 0, default: 0, description: 'model version to check (0: the one that answered the newest request; the champion for --source)' }),
  cooldownMinutes: param.number({ min: 0, default: 60, description: 'no new retraining within this many minutes of the last one' }),
  retrain: param.boolean({ default: true, description: 'start retraining when drift is found' }),
  retrainMinDrop: param.number({
    min: 0,
    max: 1,
    default: 0,
    description: "prediction-log windows: retrain on drift only when the serving version's realized accuracy (late labels) or CBPE estimate is this much below its reference accuracy, e.g. 0.02 (0: drift alone retrains)",
  }),
};

export type { DriftEvent, MonitorAction } from './drift-events';

/** What a retraining works on, fixed when it is claimed: the labelled batches (comma-separated ids) and the version it starts from (the champion then; undefined: none). */
export interface RetrainWork {
  readonly labelBatches: string;
  readonly startFrom?: number;
}

/** The fields of a training data manifest's `details` (the champion's lineage `data.uri`) a monitor reads. */
export type TrainingDataDetails = Readonly<Record<string, unknown>> & { readonly labelBatches?: readonly { readonly batchId: string }[] };

export abstract class DriftMonitorTask<P extends DriftMonitorParams = DriftMonitorParams> extends Task<P> {
  override readonly version = '1';

  /** The task that retrains the model on `work` and registers it, moving `champion` only if it is better. */
  abstract retrainTask(work: RetrainWork): AnyTask;

  /** Whether training data other than labelled batches has arrived that the champion (trained on `champion`, undefined when unknown) did not use. */
  protected abstract hasNewTrainingData(champion: TrainingDataDetails | undefined): boolean;

  constructor(params: P) {
    super(params);
    checkWindowParams(this.family, this.params);
  }

  override output() {
    return fileAt(this.params.store, 'monitoring', this.params.modelName!, 'monitor', `${this.id}.json`);
  }

  /** The version to check: given, or the one that answered the newest request in the window, or the champion. */
  private async versionToCheck(): Promise<number> {
    const p = this.params as Required<DriftMonitorParams>;
    if (p.version > 0) return p.version;
    if (!p.source) {
      const newest = await readLogWindow(p.store, p.modelName, { last: 1, since: p.since || undefined, until: p.until || undefined });
      if (newest.length === 0) throw new DriftDataError(`no predictions of model "${p.modelName}" are logged in ${p.store} up to ${p.until || 'now'}: start the server with this store, or pass --source`);
      return newest[0].version;
    }
    return (await new ModelRegistry(p.store, p.modelName).resolve(CHAMPION)).version;
  }

  async run(ctx: TaskContext): Promise<void> {
    const p = this.params as Required<DriftMonitorParams>;
    const version = await this.versionToCheck();
    const checkTask = new DriftCheck({ ...checkParamsOf(p), version });
    const reportDir = await ctx.require(checkTask);
    const report = await reportDir.file(REPORT_JSON).readJson<DriftReport>();
    const drifted = report.tests.filter((t) => t.drift && t.decisive !== false).map((t) => t.name);
    let event: DriftEvent | undefined;
    if (report.drift) {
      const base = { time: new Date().toISOString(), model: p.modelName, version: report.version, windowKey: report.window.key, report: reportDir.file(REPORT_JSON).uri, drifted };
      event = await recordDriftEvent(ctx, p.store, base, () => this.decide(ctx, base.windowKey, report.version));
      if (event.action === 'retrain') {
        await ctx.require(this.retrainTask({ labelBatches: event.labelBatches ?? '', startFrom: event.startFrom }));
        if (event.claim !== undefined) await finishRetrainClaim(ctx, p.store, p.modelName, event.claim);
      }
    }
    await this.output().writeJson({ time: new Date().toISOString(), model: p.modelName, version, drift: report.drift, drifted, report: reportDir.file(REPORT_JSON).uri, window: report.window, action: event?.action ?? 'none', event: event ?? null });
    ctx.logger.info({ drift: report.drift, drifted, action: event?.action ?? 'none', window: report.window.key }, report.drift ? `drift found; ${describe(event!)}` : 'no drift');
  }

  /** The window owner's decision: retrain (taking the next claim) unless disabled, within the cooldown, or without new data. */
  private async decide(ctx: TaskContext, windowKey: string, version: number): Promise<Decision> {
    const p = this.params as Required<DriftMonitorParams>;
    if (!p.retrain) return { action: 'disabled' };
    const last = await lastRetrainClaim(p.store, p.modelName);
    // Our own claim from an attempt that failed before it rewrote the event: still ours.
    if (last.record && isOwn(ctx, last.record)) return this.retraining(last.n, last.record);
    // A retraining whose run died: finished here, on the batches it chose, without a new claim or a cooldown.
    const adopted = last.record && (await adoptRetrainClaim(ctx, p.store, p.modelName, last.n, last.record));
    if (adopted) return this.retraining(last.n, adopted);
    if (last.record && Date.now() - Date.parse(last.record.time) < p.cooldownMinutes * 60_000) return { action: 'cooldown' };
    const performance = await this.performance(version);
    if (performance && !performance.dropped) return { action: 'performance-holds', performance };
    const champion = await new ModelRegistry(p.store, p.modelName).resolve(CHAMPION).catch(() => undefined);
    const data = await this.trainingDataOf(champion);
    const batches = await this.newBatches(data);
    if (batches.length === 0 && !this.hasNewTrainingData(data)) return { action: 'no-new-data' };
    const work = { windowKey, labelBatches: (await listLabelledBatches(p.store)).map((b) => b.batchId).join(','), ...(champion ? { startFrom: champion.version } : {}) };
    if (!(await takeRetrainClaim(ctx, p.store, p.modelName, last.n + 1, work))) {
      ctx.logger.info({ claim: last.n + 1 }, 'another monitor claimed this retraining first');
      return { action: 'cooldown' };
    }
    return { ...(await this.retraining(last.n + 1, work)), ...(performance ? { performance } : {}) };
  }

  /** The serving version's accuracy against its reference, when a minimum drop is set and the window is the prediction log's. */
  private async performance(version: number): Promise<PerformanceEvidence | undefined> {
    const p = this.params as Required<DriftMonitorParams>;
    if (p.retrainMinDrop <= 0 || p.source) return undefined;
    return performanceEvidence(p.store, p.modelName, version, { last: p.last, until: p.until || undefined }, p.retrainMinDrop);
  }

  private async retraining(claim: number, chosen: Pick<RetrainClaim, 'labelBatches' | 'startFrom'>): Promise<Decision> {
    // Claims made before they recorded their batches: the batches there are now.
    const work: RetrainWork = { labelBatches: chosen.labelBatches ?? (await listLabelledBatches(this.params.store)).map((b) => b.batchId).join(','), startFrom: chosen.startFrom };
    return { action: 'retrain', ...work, claim, retrainTaskId: this.retrainTask(work).id };
  }

  /** Labelled batches in the store that the champion's training data does not include. */
  private async newBatches(champion: TrainingDataDetails | undefined): Promise<LabelledBatchManifest[]> {
    const used = new Set((champion?.labelBatches ?? []).map((b) => b.batchId));
    return (await listLabelledBatches(this.params.store)).filter((b) => !used.has(b.batchId));
  }

  /** The `details` of the champion's training data manifest; undefined when there is no champion or it records no data. */
  private async trainingDataOf(champion: ModelVersion | undefined): Promise<TrainingDataDetails | undefined> {
    const uri = (champion?.lineage.data as { uri?: string } | undefined)?.uri;
    if (!uri) return undefined;
    return (await directoryTarget(uri).file('manifest.json').readJson<{ details: TrainingDataDetails }>()).details;
  }
}

/** The drift check's own parameters out of a monitor's. */
function checkParamsOf(p: Required<DriftMonitorParams>): Omit<DriftCheckParams, 'version'> {
  const keys = Object.keys(driftCheckParams).filter((k) => k !== 'version') as (keyof Omit<DriftCheckParams, 'version'>)[];
  return Object.fromEntries(keys.map((k) => [k, p[k]])) as Omit<DriftCheckParams, 'version'>;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function describePerformance(e: PerformanceEvidence): string {
  const measures = [e.realized && `realized ${pct(e.realized.accuracy)} on ${e.realized.labelled} labels`, e.estimated !== null && `estimated ${pct(e.estimated)}`].filter(Boolean).join(', ');
  return `${measures} vs reference ${e.referenceAccuracy === null ? '?' : pct(e.referenceAccuracy)}; retraining needs a drop of ${pct(e.minDrop)}`;
}

function describe(event: DriftEvent): string {
  switch (event.action) {
    case 'retrain':
      return `retraining started (claim ${event.claim}) with labelled batches ${event.labelBatches || 'none'}`;
    case 'cooldown':
      return 'retraining not started: another one started within the cooldown';
    case 'no-new-data':
      return 'retraining not started: no labelled data has arrived since the champion was trained';
    case 'performance-holds':
      return `retraining not started: version ${event.performance!.version}'s accuracy holds (${describePerformance(event.performance!)})`;
    case 'already-handled':
      return `this window was already handled by ${event.monitorTaskId}${event.monitorRunId ? ` (run ${event.monitorRunId})` : ''}`;
    default:
      return `retraining ${event.action}`;
  }
}
