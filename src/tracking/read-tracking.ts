import type { Store } from '../store/store';
import { decodeNumber, listFiles, type MetricPoint, runFolder, type TrackingSegment } from './tracking-files';

/** What one task attempt tracked, its segments put back together: every metric point, in the order logged. */
export type AttemptTracking = Omit<TrackingSegment, 'format' | 'runId' | 'segment'>;

/** What a run tracked, over all its tasks; `params`, `tags` and `metrics` (latest value per key) are what search and compare use. */
export interface RunTracked {
  readonly runId: string;
  readonly attempts: readonly AttemptTracking[];
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  /** The latest value of each metric (by time, then step), as MLflow's `metrics.<key>` in a search. */
  readonly metrics: Readonly<Record<string, number>>;
}

function merge(segments: TrackingSegment[]): AttemptTracking {
  segments.sort((a, b) => a.segment - b.segment);
  const last = segments.at(-1)!;
  return {
    taskId: last.taskId,
    attempt: last.attempt,
    params: last.params,
    tags: last.tags,
    artifacts: last.artifacts,
    ...(last.progress ? { progress: last.progress } : {}),
    metrics: segments.flatMap((s) => s.metrics.map((p) => ({ ...p, value: decodeNumber(p.value) }))),
    updatedAt: last.updatedAt,
  };
}

/** Every task attempt's tracking in run `runId`; none when the run tracked nothing. Unreadable segments are skipped. */
export async function readRunTracking(store: Store, runId: string): Promise<RunTracked> {
  const folder = runFolder(store, runId, 'tracking');
  const names = (await listFiles(folder)).filter((n) => /^[^/]+\/\d+-\d+\.json$/.test(n));
  const segments = await Promise.all(
    names.map(async (name) => {
      try {
        return JSON.parse((await folder.fs.read(folder.fs.join(folder.path, name))).toString('utf8')) as TrackingSegment;
      } catch {
        return undefined;
      }
    }),
  );
  const byAttempt = new Map<string, TrackingSegment[]>();
  for (const s of segments) {
    if (s?.format !== 'dagwright.tracking/1') continue;
    const key = `${s.taskId}\0${s.attempt}`;
    byAttempt.set(key, [...(byAttempt.get(key) ?? []), s]);
  }
  const attempts = [...byAttempt.values()].map(merge).sort((a, b) => a.taskId.localeCompare(b.taskId) || a.attempt - b.attempt);
  return summarise(runId, attempts);
}

/** Run-level params, tags and latest metrics from the attempts. */
export function summarise(runId: string, attempts: readonly AttemptTracking[]): RunTracked {
  const params: Record<string, string> = {};
  const tags: Record<string, string> = {};
  const latest = new Map<string, MetricPoint>();
  for (const a of attempts) {
    Object.assign(params, a.params);
    Object.assign(tags, a.tags);
    for (const p of a.metrics) {
      const before = latest.get(p.key);
      if (!before || p.time > before.time || (p.time === before.time && p.step >= before.step)) latest.set(p.key, p);
    }
  }
  const metrics = Object.fromEntries([...latest].map(([k, p]) => [k, p.value]));
  return { runId, attempts, params, tags, metrics };
}

/** The points of metric `key` over all attempts, by step: one curve. */
export function metricSeries(tracked: RunTracked, key: string): MetricPoint[] {
  return tracked.attempts.flatMap((a) => a.metrics.filter((p) => p.key === key)).sort((a, b) => a.step - b.step || a.time - b.time);
}
