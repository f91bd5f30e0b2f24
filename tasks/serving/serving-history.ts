/**
 * The server's history as a compact time series in the store: one record a
 * minute (requests, errors by status, a latency histogram, predicted-class
 * counts, batch sizes) and an event for each deployment and swap (time,
 * version, where, why). Taken as differences of the server's own Prometheus
 * counters, so nothing on the request path changes.
 *
 *   <store>/serving/<model>/history/<hour>/<instance>.json   ServingHistoryFile
 *
 * Each server process (an instance: host, pid, start) rewrites its file for
 * the current hour whole and atomically every minute, so a restart starts a
 * new file beside the old ones and a SIGKILL loses at most the minute in
 * progress, never leaves half a record. Hours older than `retentionHours`
 * are removed: the history stays bounded.
 */
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { readStoredJson, shape } from '../../src/public/store';
import { directoryAt, fileAt, listUnder, type StoreLocation } from '../store';

/** One minute of one server. */
export interface ServingMinute {
  /** When the interval began (ISO; one a minute unless `intervalMs` says otherwise). */
  readonly minute: string;
  readonly version: number | null;
  readonly requests: number;
  /** Answers by HTTP status, errors included (e.g. { "200": 41, "400": 1 }). */
  readonly statuses: Readonly<Record<string, number>>;
  /** Latency histogram: requests answered within each bound (seconds, cumulative like Prometheus; "+Inf" is all). */
  readonly latency: Readonly<Record<string, number>>;
  readonly predictedClasses: Readonly<Record<string, number>>;
  /** Model calls by batch size bound (cumulative). */
  readonly batchSizes: Readonly<Record<string, number>>;
}

export interface ServingEvent {
  readonly at: string;
  readonly kind: 'start' | 'swap' | 'stop';
  readonly version: number | null;
  /** The server's address. */
  readonly where: string;
  readonly why: string;
}

/** The stored file of one server instance for one hour. */
export interface ServingHistoryFile {
  readonly model: string;
  readonly instance: string;
  readonly hour: string;
  readonly minutes: readonly ServingMinute[];
  readonly events: readonly ServingEvent[];
}

type Counts = Map<string, number>;

/** Sums of every sample of the named metrics, keyed by `key(labels)`. */
async function snapshot(registry: Registry): Promise<Map<string, Counts>> {
  const out = new Map<string, Counts>();
  for (const metric of await registry.getMetricsAsJSON()) {
    const counts: Counts = new Map();
    for (const v of metric.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
      const name = v.metricName ?? metric.name;
      let key: string | undefined;
      if (metric.name === 'dagwright_serve_requests_total') key = String(v.labels.status);
      else if (metric.name === 'dagwright_serve_predicted_class_total') key = String(v.labels.label);
      else if (name.endsWith('_bucket')) key = String(v.labels.le);
      if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + v.value);
    }
    out.set(metric.name, counts);
  }
  return out;
}

const diff = (now: Counts | undefined, before: Counts | undefined): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of now ?? []) {
    const d = v - (before?.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
};

export const servingHistoryDirectory = (store: StoreLocation, model: string) => directoryAt(store, 'serving', model, 'history');

export interface ServingHistoryOptions {
  readonly intervalMs?: number;
  readonly retentionHours?: number;
}

/** Records one server's minutes and events; `stop()` writes the last (partial) minute. */
export class ServingHistoryWriter {
  readonly instance = `${hostname()}-${process.pid}-${Date.now().toString(36)}`;
  private minutes: ServingMinute[] = [];
  private events: ServingEvent[] = [];
  private hour = '';
  private previous: Map<string, Counts> | undefined;
  private since = new Date();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StoreLocation,
    private readonly model: string,
    private readonly registry: () => Registry,
    private readonly version: () => number | undefined,
    private readonly options: ServingHistoryOptions = {},
  ) {}

  /** Starts the minute timer (events are recorded from construction). */
  start(): void {
    void snapshot(this.registry()).then((s) => (this.previous ??= s));
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** A deployment or swap: written with the next record. */
  event(kind: ServingEvent['kind'], where: string, why: string): void {
    this.events.push({ at: new Date().toISOString(), kind, version: this.version() ?? null, where, why });
  }

  /** Takes the minute just ended and rewrites this hour's file. */
  tick(): Promise<void> {
    this.writing = this.writing.then(() => this.record()).catch(() => undefined);
    return this.writing;
  }

  async stop(where: string): Promise<void> {
    clearInterval(this.timer);
    this.event('stop', where, 'server stopped');
    await this.tick();
  }

  private async record(): Promise<void> {
    const now = new Date();
    const current = await snapshot(this.registry());
    const before = this.previous;
    this.previous = current;
    const statuses = diff(current.get('dagwright_serve_requests_total'), before?.get('dagwright_serve_requests_total'));
    const minute = this.since.toISOString();
    this.since = now;
    const hour = now.toISOString().slice(0, 13);
    if (hour !== this.hour) {
      // A new hour: a new file (the old one is complete as written).
      this.hour = hour;
      this.minutes = [];
      await this.prune(now);
    }
    this.minutes.push({
      minute,
      version: this.version() ?? null,
      requests: Object.values(statuses).reduce((a, b) => a + b, 0),
      statuses,
      latency: diff(current.get('dagwright_serve_request_duration_seconds'), before?.get('dagwright_serve_request_duration_seconds')),
      predictedClasses: diff(current.get('dagwright_serve_predicted_class_total'), before?.get('dagwright_serve_predicted_class_total')),
      batchSizes: diff(current.get('dagwright_serve_batch_size'), before?.get('dagwright_serve_batch_size')),
    });
    const events = this.events.filter((e) => e.at.slice(0, 13) === hour);
    const file: ServingHistoryFile = { model: this.model, instance: this.instance, hour, minutes: this.minutes, events };
    await fileAt(this.store, 'serving', this.model, 'history', hour, `${this.instance}.json`).writeJson(file);
  }

  private async prune(now: Date): Promise<void> {
    const keepFrom = new Date(now.getTime() - (this.options.retentionHours ?? 24 * 14) * 3_600_000).toISOString().slice(0, 13);
    const dir = servingHistoryDirectory(this.store, this.model);
    for (const h of new Set((await listUnder(dir)).map((p) => p.split('/')[0]))) {
      if (h < keepFrom) await dir.fs.remove(dir.fs.join(dir.path, h));
    }
  }
}

const checkHistoryFile = (value: unknown): string | undefined => shape.fields(value, { model: 'string', instance: 'string', hour: 'string', minutes: 'array', events: 'array' });

/** Every stored record and event of a model's servers, oldest first. */
export async function readServingHistory(store: StoreLocation, model: string): Promise<{ minutes: (ServingMinute & { instance: string })[]; events: (ServingEvent & { instance: string })[] }> {
  const minutes: (ServingMinute & { instance: string })[] = [];
  const events: (ServingEvent & { instance: string })[] = [];
  for (const path of (await listUnder(servingHistoryDirectory(store, model))).filter((p) => p.endsWith('.json')).sort()) {
    const [hour, name] = path.split('/');
    const file = await readStoredJson<ServingHistoryFile>(fileAt(store, 'serving', model, 'history', hour, name), checkHistoryFile, 'Remove it: only that server-hour of history is lost.');
    if (!file) continue;
    minutes.push(...file.minutes.map((m) => ({ ...m, instance: file.instance })));
    events.push(...file.events.map((e) => ({ ...e, instance: file.instance })));
  }
  minutes.sort((a, b) => a.minute.localeCompare(b.minute));
  events.sort((a, b) => a.at.localeCompare(b.at));
  return { minutes, events };
}
