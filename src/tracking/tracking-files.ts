import type { Store } from '../store/store';
import { createHash } from 'node:crypto';
import { runWithSignal } from '../cancellation';
import { storeFolder, type StoreFolder } from '../history/store-files';

/** One metric point: MLflow's (key, value, step, timestamp). */
export interface MetricPoint {
  readonly key: string;
  /** NaN and infinities are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers). */
  readonly value: number;
  readonly step: number;
  /** Milliseconds since the epoch. */
  readonly time: number;
}

export interface ArtifactRef {
  readonly name: string;
  readonly uri: string;
}

export interface TaskProgress {
  readonly done: number;
  readonly total: number;
  readonly note?: string;
  readonly time: number;
}

/**
 * One segment of one task attempt's tracking, `<store>/_run-data/<runId>/tracking/<task>/<attempt>-<segment>.json`.
 * The open segment is rewritten (atomically) at each flush; once it holds
 * enough metric points it is sealed and the next one opens, so a flush never
 * rewrites more than one segment. Params, tags, artifacts and progress are
 * whole in every segment (the newest wins); metrics are the segment's own.
 */
export interface TrackingSegment {
  readonly format: 'dagwright.tracking/1';
  readonly runId: string;
  readonly taskId: string;
  readonly attempt: number;
  readonly segment: number;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly artifacts: readonly ArtifactRef[];
  readonly progress?: TaskProgress;
  readonly metrics: readonly MetricPoint[];
  readonly updatedAt: string;
}

const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$/;

/** A file-name-safe name for a task id: the id itself when it is safe, else a hash (the id is inside the files). */
export function taskFileName(taskId: string): string {
  return safeName.test(taskId) ? taskId : `task-${createHash('sha256').update(taskId).digest('hex').slice(0, 24)}`;
}

const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Beside `<store>/_runs/` (the run records), one folder per run for what the run kept; see `runFolder`. */
export const runDataFolder = '_run-data';

/**
 * `<store>/_run-data/<runId>/<part>` on the store's file system; refuses a run
 * id that is not one. Not inside `_runs/`: listing the run records stays one
 * level deep (a store's file system lists folders recursively; 5,000 runs
 * with their data inside `_runs/` made `runs list` 100 times slower).
 */
export function runFolder(store: Store, runId: string, part: 'tracking' | 'logs' | 'graph.json'): StoreFolder {
  if (!runIdPattern.test(runId)) throw new Error(`"${runId}" is not a run id`);
  const runs = storeFolder(store, runDataFolder);
  return { fs: runs.fs, path: runs.fs.join(runs.path, `${runId}/${part}`) };
}

/** Writes outside any task attempt's cancellation: tracking is kept even when the attempt is aborted. */
export function writeUncancelled(folder: StoreFolder, name: string, body: string): Promise<void> {
  return runWithSignal(new AbortController().signal, () => folder.fs.write(folder.fs.join(folder.path, name), body));
}

export function encodeNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

export function decodeNumber(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Lists a folder's files, none when it does not exist. */
export async function listFiles(folder: StoreFolder): Promise<string[]> {
  try {
    return await folder.fs.listDirectory(folder.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}
