/**
 * A drift check as a task: the current window (prediction log or a data
 * source) against the model version's stored reference, every test with its
 * options, the report published as one directory target
 *
 *   <store>/monitoring/<model>/reports/<task id>/report.json, report.html
 *
 * and then `<store>/monitoring/<model>/latest.json` (the summary the server's
 * /metrics and the UI read), unless a newer report is already there.
 */
import { param, ParameterError, target, Task, type TaskContext, UsageError } from '../../src';
import { codeVersion } from '../code-version';
import { directoryAt, fileAt } from '../store';
import { latestSummaryFile, readLatestSummary } from '../store-layout';
import { DRIFT_TESTS, type DriftCheckOptions, type DriftTestName, runDriftChecks } from './checks';
import { versionDriftFeatures } from '../onnx/version-drift-features';
import { DriftReference, readReference, referenceParams } from './reference-task';
import { type DriftReport, type DriftSummary, driftHistograms, renderReportHtml, summarise } from './report';
import { parseSourceSpec } from './sources/source-spec';
import { logWindow, sourceWindow } from './window';
import { DriftDataError } from './errors';

export const REPORT_JSON = 'report.json';
export const REPORT_HTML = 'report.html';

export interface DriftCheckParams {
  store: string;
  modelName?: string;
  version: number;
  source?: string;
  size?: number;
  seed?: number;
  last?: number;
  since?: string;
  until?: string;
  pValue?: number;
  permutations?: number;
  combine?: string;
  tests?: string;
  imageStatTest?: string;
  referenceSource?: string;
  referenceSize?: number;
}

export const driftCheckParams = {
  ...referenceParams,
  source: param.string({ default: '', description: "data source of the current images ('' = the prediction log); e.g. optdigits, mnist-test+rotate:30, folder:<path>" }),
  size: param.int({ min: 2, default: 500, description: 'images sampled from --source' }),
  seed: param.int({ min: 0, default: 0, description: 'seed of the source sample, its transforms and the MMD permutations' }),
  last: param.int({ min: 2, default: 500, description: 'prediction log: the newest N records' }),
  since: param.string({ default: '', description: 'prediction log: only records at or after this ISO time' }),
  until: param.string({ default: '', description: 'prediction log: only records at or before this ISO time' }),
  pValue: param.number({ min: 1e-9, max: 0.5, default: 0.05, description: 'significance level of the p-value tests' }),
  permutations: param.int({ min: 1, max: 100_000, default: 100, description: 'MMD permutations' }),
  combine: param.choice(['bonferroni', 'each'], { default: 'bonferroni', description: 'p-value tests share the level (bonferroni) or each get it' }),
  tests: param.string({ default: DRIFT_TESTS.join(','), description: `comma-separated tests to run (${DRIFT_TESTS.join(', ')})` }),
  imageStatTest: param.choice(['auto', 'ks', 'wasserstein'], { default: 'auto', description: "image statistics test: Evidently's rule by reference size, or always one" }),
};

function parseTests(text: string): DriftTestName[] {
  const names = text.split(',').map((t) => t.trim()).filter(Boolean);
  const bad = names.filter((n) => !(DRIFT_TESTS as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) throw new UsageError(`--tests got "${text}": expected a comma-separated list of ${DRIFT_TESTS.join(', ')}`);
  return names as DriftTestName[];
}

/** Checks what the parameters name (a data source, the tests) so a bad value is a usage error before anything runs. */
export function checkWindowParams(family: string, params: { source?: string; tests?: string }): void {
  if (params.source) {
    try {
      parseSourceSpec(params.source);
    } catch (err) {
      throw new ParameterError(family, 'source', params.source, (err as Error).message.replace(/^data source "[^"]*" is not known: expected /, ''));
    }
  }
  if (params.tests !== undefined) {
    try {
      parseTests(params.tests);
    } catch {
      throw new ParameterError(family, 'tests', params.tests, `a comma-separated list of ${DRIFT_TESTS.join(', ')}`);
    }
  }
}

export class DriftCheck extends Task<DriftCheckParams> {
  static override params = driftCheckParams;
  override readonly version = '1';

  constructor(params: DriftCheckParams) {
    super(params);
    checkWindowParams(this.family, this.params);
  }

  override requires() {
    const { store, modelName, version, referenceSource, referenceSize } = this.params as Required<DriftCheckParams>;
    return new DriftReference({ store, modelName, version, referenceSource, referenceSize });
  }

  override output() {
    return directoryAt(this.params.store, 'monitoring', this.params.modelName!, 'reports', this.id);
  }

  /** The checks' options from the task's parameters. */
  checkOptions(): DriftCheckOptions {
    const p = this.params as Required<DriftCheckParams>;
    return { pValue: p.pValue, permutations: p.permutations, combine: p.combine as 'bonferroni' | 'each', seed: p.seed, tests: parseTests(p.tests), imageStatTest: p.imageStatTest as 'auto' };
  }

  async run(ctx: TaskContext): Promise<void> {
    const p = this.params as Required<DriftCheckParams>;
    const started = Date.now();
    const { features: reference, details } = await readReference(p.store, p.modelName, p.version);
    const { batch, window } = p.source
      ? await sourceWindow(p.source, p.size, p.seed, p.store)
      : await logWindow(p.store, p.modelName, { last: p.last, since: p.since || undefined, until: p.until || undefined });
    if (batch.count < 2) throw new DriftDataError(`the window holds ${batch.count} image(s): a drift check needs at least 2 (is the server logging predictions to ${p.store}?)`);
    const current = await versionDriftFeatures(p.store, p.modelName, p.version, batch.pixels, batch.count);
    const result = runDriftChecks(reference, current, this.checkOptions());
    const report: DriftReport = {
      formatVersion: 1,
      time: new Date().toISOString(),
      model: p.modelName,
      version: p.version,
      drift: result.drift,
      window,
      reference: { count: reference.count, uri: this.input().uri, data: details.data },
      tests: result.tests,
      ...(result.skipped.length > 0 ? { skipped: result.skipped } : {}),
      options: result.options,
      histograms: driftHistograms(reference, current),
      code: codeVersion(),
      checkMs: Date.now() - started,
    };
    await this.output().write(async (dir) => {
      await dir.write(REPORT_JSON, `${JSON.stringify(report, null, 2)}\n`);
      await dir.write(REPORT_HTML, renderReportHtml(report));
    });
    await publishSummary(p.store, summarise(report, this.output().file(REPORT_JSON).uri, this.output().file(REPORT_HTML).uri));
    const failed = result.tests.filter((t) => t.drift).map((t) => t.name);
    ctx.logger.info(
      { model: p.modelName, version: p.version, drift: result.drift, window: window.count, drifted: failed, report: this.output().uri },
      (result.drift ? `drift detected in ${window.count} images (${failed.join(', ')})` : `no drift in ${window.count} images`) +
        result.skipped.map((t) => `; skipped ${t.name}: ${t.reason}`).join(''),
    );
  }
}

/** The latest.json of a model, or undefined. */
export function readDriftSummary(store: string, model: string): Promise<DriftSummary | undefined> {
  return readLatestSummary(store, model);
}

/** Writes latest.json unless the one there is newer (checks finishing out of order never move it back). */
async function publishSummary(store: string, summary: DriftSummary): Promise<void> {
  // A damaged summary is replaced by this one: that is its repair.
  const existing = await readLatestSummary(store, summary.model).catch(() => undefined);
  if (existing && existing.time > summary.time) return;
  await latestSummaryFile(store, summary.model).writeJson(summary);
}

/** Reads a full report back. */
export function readDriftReport(uri: string): Promise<DriftReport> {
  return target(uri).readJson<DriftReport>();
}
