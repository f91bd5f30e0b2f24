/**
 * What the operations page reads, in the shapes the serving history and the
 * accuracy series are stored in (issue "Operate for a month"):
 *   serving/<model>/history/<hour>/<instance>.json   one record a minute per server, and its start/swap/stop events
 *   monitoring/<model>/realized-accuracy/<window>.json, estimated-accuracy/<window>.json
 * Read structurally and defensively: a file that is not in that shape is skipped and counted.
 */
import pLimit from 'p-limit';
import { directoryAt, fileAt, listUnder, type StoreLocation } from '../../tasks/store';
import type { ServingEvent, ServingMinute as StoredMinute } from '../../tasks/serving/serving-history';
import { histogramQuantile } from './pages/prometheus-text';

/** The fields of a stored serving minute the page draws. */
export type ServingMinute = Pick<StoredMinute, 'minute' | 'version' | 'requests' | 'statuses' | 'latency'>;
export type { ServingEvent };

export interface AccuracyPoint {
  readonly start: string;
  readonly end: string;
  readonly version: number;
  readonly accuracy: number | null;
}

/** One point of the page's series: `bucketMs` of serving summed. */
export interface OperationsBucket {
  readonly at: number;
  readonly requests: number;
  readonly errors: number;
  /** Serving records in the bucket: one per server and minute. */
  readonly minutes: number;
  readonly versions: ReadonlySet<number>;
  readonly latency: Map<number, number>;
}

const hourFolder = /^\d{4}-\d\d-\d\dT\d\d[^/]*\/[^/]+\.json$/;

function isMinute(m: unknown): m is ServingMinute {
  const x = m as ServingMinute;
  return typeof x?.minute === 'string' && typeof x.requests === 'number' && typeof x.statuses === 'object' && typeof x.latency === 'object';
}

type HistoryFile = { minutes?: unknown[]; events?: unknown[] } | undefined;
/** Files of hours that ended more than an hour ago never change again: read once per store. */
const finished = new WeakMap<object, Map<string, HistoryFile>>();

function cacheOf(store: StoreLocation): Map<string, HistoryFile> | undefined {
  if (typeof store !== 'object') return undefined;
  let cache = finished.get(store);
  if (!cache) finished.set(store, (cache = new Map()));
  return cache;
}

/** Every history file of the last `days`, read a few at a time; damaged ones counted, not fatal. */
export async function readServingHistory(store: StoreLocation, model: string, sinceMs: number): Promise<{ minutes: ServingMinute[]; events: ServingEvent[]; skipped: number }> {
  const files = (await listUnder(directoryAt(store, 'serving', model, 'history')).catch(() => [] as string[])).filter((f) => hourFolder.test(f));
  const since = new Date(sinceMs - 3_600_000).toISOString().slice(0, 13);
  const recent = files.filter((f) => f.slice(0, 13) >= since);
  const limit = pLimit(16);
  let skipped = 0;
  const cache = cacheOf(store);
  const settled = new Date(Date.now() - 2 * 3_600_000).toISOString().slice(0, 13);
  const read = await Promise.all(
    recent.map((f) => {
      const key = `${model}/${f}`;
      if (cache?.has(key)) return cache.get(key);
      return limit(async () => {
        const file = await fileAt(store, 'serving', model, 'history', ...f.split('/')).readJson<HistoryFile>().catch(() => undefined);
        if (file && f.slice(0, 13) < settled) cache?.set(key, file);
        return file;
      });
    }),
  );
  const minutes: ServingMinute[] = [];
  const events: ServingEvent[] = [];
  for (const file of read) {
    if (!file || !Array.isArray(file.minutes)) {
      skipped++;
      continue;
    }
    for (const m of file.minutes) if (isMinute(m) && Date.parse(m.minute) >= sinceMs) minutes.push(m);
    for (const e of file.events ?? []) if (typeof (e as ServingEvent)?.at === 'string' && Date.parse((e as ServingEvent).at) >= sinceMs) events.push(e as ServingEvent);
  }
  events.sort((a, b) => a.at.localeCompare(b.at));
  return { minutes, events, skipped };
}

/** Minutes summed into buckets (all servers together), oldest first. */
export function bucketed(minutes: readonly ServingMinute[], bucketMs: number): OperationsBucket[] {
  const buckets = new Map<number, { at: number; requests: number; errors: number; minutes: number; versions: Set<number>; latency: Map<number, number> }>();
  for (const m of minutes) {
    const at = Math.floor(Date.parse(m.minute) / bucketMs) * bucketMs;
    let b = buckets.get(at);
    if (!b) buckets.set(at, (b = { at, requests: 0, errors: 0, minutes: 0, versions: new Set(), latency: new Map() }));
    b.requests += m.requests;
    b.minutes++;
    for (const [status, n] of Object.entries(m.statuses)) if (!/^2/.test(status)) b.errors += n;
    if (typeof m.version === 'number') b.versions.add(m.version);
    for (const [le, n] of Object.entries(m.latency)) {
      const bound = le === '+Inf' ? Infinity : Number(le);
      b.latency.set(bound, (b.latency.get(bound) ?? 0) + n);
    }
  }
  return [...buckets.values()].sort((a, b) => a.at - b.at);
}

export function quantileMs(latency: ReadonlyMap<number, number>, q: number): number | null {
  const v = histogramQuantile([...latency].map(([le, count]) => ({ le, count })), q);
  return v === undefined ? null : v * 1000;
}

/** The points of every accuracy series of a kind (`realized-accuracy`, `estimated-accuracy`), by window name. */
export async function readAccuracy(store: StoreLocation, model: string, kind: 'realized-accuracy' | 'estimated-accuracy'): Promise<Map<string, AccuracyPoint[]>> {
  const files = (await listUnder(directoryAt(store, 'monitoring', model, kind)).catch(() => [] as string[])).filter((f) => /^[A-Za-z0-9][A-Za-z0-9._-]*\.json$/.test(f));
  const out = new Map<string, AccuracyPoint[]>();
  for (const f of files) {
    const series = await fileAt(store, 'monitoring', model, kind, f).readJson<{ points?: unknown[] }>().catch(() => undefined);
    const points = (series?.points ?? [])
      .map((p) => p as { start?: unknown; end?: unknown; version?: unknown; accuracy?: unknown; estimatedAccuracy?: unknown })
      .filter((p) => typeof p.end === 'string' && typeof p.start === 'string')
      .map((p): AccuracyPoint => ({ start: p.start as string, end: p.end as string, version: Number(p.version), accuracy: typeof p.accuracy === 'number' ? p.accuracy : typeof p.estimatedAccuracy === 'number' ? p.estimatedAccuracy : null }));
    if (points.length) out.set(f.replace(/\.json$/, ''), points);
  }
  return out;
}
