/**
 * The server's Prometheus metrics (one prom-client registry per server, so
 * two servers in one process never share counters), including the latest
 * drift decision, read from `<store>/monitoring/<model>/latest.json` (written
 * by monitoring) when scraped, at most every few seconds.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { type DriftSummary, latestSummaryFile, readLatestSummary } from '../store-layout';
import type { PredictionLogStats } from './prediction-log/prediction-log';


type DriftGauges = Record<'detected' | 'pValue' | 'statistic' | 'testDrift' | 'time' | 'available' | 'stale', Gauge<string>>;

/** A scrape reads a summary on this machine's disk every time (a stat and a small read); a remote one (S3) at most every 5 s. */
const driftCacheMs = (store: string, model: string) => {
  const file = latestSummaryFile(store, model);
  return file.fs.localPath(file.path) === undefined ? 5000 : 0;
};

/** Routes that are not traffic: a Prometheus scrape and health probes are left out of request counts and latency. */
export const operationalRoutes: ReadonlySet<string> = new Set(['/metrics', '/v2/health/live', '/v2/health/ready', '/ping', '/health']);

function operational(labels: unknown): boolean {
  return typeof labels === 'object' && labels !== null && operationalRoutes.has(String((labels as { route?: unknown }).route));
}

/** Counts client requests only (see `operationalRoutes`). */
class TrafficCounter<T extends string> extends Counter<T> {
  override inc(...args: unknown[]): void {
    if (operational(args[0])) return;
    (super.inc as (...a: unknown[]) => void)(...args);
  }
}

/** Times client requests only (see `operationalRoutes`). */
class TrafficHistogram<T extends string> extends Histogram<T> {
  override observe(...args: unknown[]): void {
    if (operational(args[0])) return;
    (super.observe as (...a: unknown[]) => void)(...args);
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly batchSize: Histogram;
  readonly predictedClass: Counter<'label'>;
  readonly reloads: Counter;
  readonly refusedReloads: Counter;
  private readonly servingInfo: Gauge<'model' | 'version' | 'alias'>;
  private driftRead = 0;
  /** The version answering now: drift results of any other version are stale and are not exported. */
  private servedVersion: number | undefined;

  constructor(
    store: string,
    model: string,
    logStats: () => PredictionLogStats,
    logger?: Logger,
  ) {
    const registers = [this.registry];
    this.requests = new TrafficCounter({ name: 'dagwright_serve_requests_total', help: 'HTTP requests by route, method and status (not /metrics scrapes or health checks)', labelNames: ['route', 'method', 'status'], registers });
    this.latency = new TrafficHistogram({
      name: 'dagwright_serve_request_duration_seconds',
      help: 'Time from request to response, by route (not /metrics scrapes or health checks)',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.batchSize = new Histogram({ name: 'dagwright_serve_batch_size', help: 'Images per model call', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.predictedClass = new Counter({ name: 'dagwright_serve_predicted_class_total', help: 'Images answered, by predicted label', labelNames: ['label'], registers });
    this.servingInfo = new Gauge({ name: 'dagwright_serve_model_info', help: 'The version being served (value 1)', labelNames: ['model', 'version', 'alias'], registers });
    this.reloads = new Counter({ name: 'dagwright_serve_reloads_total', help: 'Versions loaded and swapped in after the alias moved', registers });
    this.refusedReloads = new Counter({ name: 'dagwright_serve_reloads_refused_total', help: 'Versions that failed to load or warm and were refused', registers });
    new Gauge({
      name: 'dagwright_serve_prediction_log_records',
      help: 'Prediction log records by state (written, dropped, sampled_out, buffered)',
      labelNames: ['state'],
      registers,
      collect() {
        const s = logStats();
        this.set({ state: 'written' }, s.written);
        this.set({ state: 'dropped' }, s.dropped);
        this.set({ state: 'sampled_out' }, s.sampledOut);
        this.set({ state: 'buffered' }, s.buffered);
      },
    });
    this.driftGauges(store, model, logger);
  }

  /** Records which version answers now. */
  serving(model: string, version: number, alias: string): void {
    if (this.servedVersion !== version) this.driftRead = 0;
    this.servedVersion = version;
    this.servingInfo.reset();
    this.servingInfo.set({ model, version: String(version), alias }, 1);
  }

  private driftGauges(store: string, model: string, logger?: Logger): void {
    // prom-client reads all metrics of a scrape at once: each drift gauge waits for the same read of the summary.
    let pending: Promise<void> | undefined;
    const collect = (): Promise<void> => (pending ??= this.refreshDrift(store, model, gauges, logger).finally(() => (pending = undefined)));
    const registers = [this.registry];
    const gauges: DriftGauges = {
      detected: new Gauge({ name: 'dagwright_drift_detected', help: 'Latest drift decision from monitoring (1 drift, 0 none)', labelNames: ['model', 'version'], registers, collect }),
      pValue: new Gauge({ name: 'dagwright_drift_p_value', help: 'p-value of each drift test in the latest report', labelNames: ['test'], registers, collect }),
      statistic: new Gauge({ name: 'dagwright_drift_statistic', help: 'Statistic of each drift test in the latest report', labelNames: ['test'], registers, collect }),
      testDrift: new Gauge({ name: 'dagwright_drift_test_detected', help: 'Decision of each drift test in the latest report', labelNames: ['test'], registers, collect }),
      time: new Gauge({ name: 'dagwright_drift_report_timestamp_seconds', help: 'When the latest drift report was made', registers, collect }),
      available: new Gauge({ name: 'dagwright_drift_report_available', help: 'Whether a drift report summary was found in the store (1) or not (0)', registers, collect }),
      stale: new Gauge({ name: 'dagwright_drift_report_stale', help: 'The latest drift report checked a version that no longer serves (1): its results are left out', registers, collect }),
    };
  }

  private async refreshDrift(store: string, model: string, gauges: DriftGauges, logger?: Logger): Promise<void> {
    if (Date.now() - this.driftRead < driftCacheMs(store, model)) return;
    this.driftRead = Date.now();
    const summary = await readDriftSummary(store, model, logger);
    for (const g of Object.values(gauges)) g.reset();
    gauges.available.set(summary ? 1 : 0);
    const stale = summary !== undefined && isStaleSummary(summary, this.servedVersion);
    gauges.stale.set(stale ? 1 : 0);
    if (!summary || stale) return;
    if (typeof summary.drift === 'boolean') gauges.detected.set({ model, version: String(summary.version ?? '') }, summary.drift ? 1 : 0);
    const at = summary.time ? Date.parse(summary.time) : NaN;
    if (Number.isFinite(at)) gauges.time.set(at / 1000);
    for (const test of summary.tests ?? []) {
      if (typeof test.name !== 'string') continue;
      if (typeof test.pValue === 'number') gauges.pValue.set({ test: test.name }, test.pValue);
      if (typeof test.statistic === 'number') gauges.statistic.set({ test: test.name }, test.statistic);
      if (typeof test.drift === 'boolean') gauges.testDrift.set({ test: test.name }, test.drift ? 1 : 0);
    }
  }
}

/** A summary is stale when it checked a version other than the one serving now (none known yet: not stale). */
export function isStaleSummary(summary: Pick<DriftSummary, 'version'>, servedVersion: number | undefined): boolean {
  return servedVersion !== undefined && summary.version !== servedVersion;
}

async function readDriftSummary(store: string, model: string, logger?: Logger): Promise<DriftSummary | undefined> {
  try {
    return await readLatestSummary(store, model);
  } catch (err) {
    // A damaged summary is a gauge of 0 (no report), not a failed scrape; the log says which file and how to repair it.
    logger?.warn({ err }, err instanceof Error ? err.message : String(err));
    return undefined;
  }
}
