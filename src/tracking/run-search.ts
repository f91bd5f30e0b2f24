import type { Store } from '../store/store';
import pLimit from 'p-limit';
import { RunHistory } from '../history/run-history';
import { effectiveStatus, type RunRecord } from '../history/run-record';
import { type FilterClause, parseFilter } from './filter';
import { matchesFilter, type OrderBy, type SearchableRun, sortRuns } from './filter-match';
import { readRunTracking, type RunTracked } from './read-tracking';

/** A run as search and compare see it: its record, what it tracked, and the flat view filters match. */
export interface TrackedRun extends SearchableRun {
  readonly record: RunRecord;
  readonly tracked: RunTracked;
}

/** Flow parameters and tracked parameters together (a tracked one wins), attributes as MLflow names them. */
export function trackedRun(record: RunRecord, tracked: RunTracked, now = Date.now()): TrackedRun {
  const flowParams = Object.fromEntries(Object.entries(record.params).map(([k, v]) => [k, String(v)]));
  return {
    record,
    tracked,
    attributes: {
      run_id: record.runId,
      status: effectiveStatus(record, now),
      flow: record.flow,
      run_name: record.flow,
      host: record.host,
      start_time: Date.parse(record.startedAt),
      end_time: record.endedAt === undefined ? undefined : Date.parse(record.endedAt),
      duration: record.durationMs,
    },
    params: { ...flowParams, ...tracked.params },
    tags: tracked.tags,
    metrics: tracked.metrics,
  };
}

/** Reads runs and their tracking, a few at a time; records that cannot be read are skipped. */
export async function readTrackedRuns(store: Store, runIds: readonly string[], concurrency = 16): Promise<TrackedRun[]> {
  const history = RunHistory.forStore(store);
  const limit = pLimit(concurrency);
  const runs = await Promise.all(
    runIds.map((id) =>
      limit(async () => {
        const record = await history.read(id).catch(() => undefined);
        if (!record) return undefined;
        return trackedRun(record, await readRunTracking(store, id));
      }),
    ),
  );
  return runs.filter((r): r is TrackedRun => r !== undefined);
}

export interface SearchOptions {
  /** Most runs returned; default 100. */
  readonly limit?: number;
  /** Default: newest first. */
  readonly orderBy?: OrderBy;
}

/** The runs of a store that match an MLflow filter. Throws a FilterError for a bad filter before reading anything. */
export async function searchRuns(store: Store, filter: string | readonly FilterClause[], options: SearchOptions = {}): Promise<TrackedRun[]> {
  const clauses = typeof filter === 'string' ? parseFilter(filter) : filter;
  const ids = await RunHistory.forStore(store).runIds();
  const matching = (await readTrackedRuns(store, ids)).filter((r) => matchesFilter(clauses, r));
  const ordered = options.orderBy ? sortRuns(matching, options.orderBy) : matching;
  return ordered.slice(0, options.limit ?? 100);
}
