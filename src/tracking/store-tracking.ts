import type { Store } from '../store/store';
import type { Logger } from 'pino';
import type { Target } from '../targets/target';
import { checkKey, checkMetric, checkValue, TrackingError, trackingLimits } from './limits';
import type { Tracking, TrackedValue } from '../task-tracking';
import {
  type ArtifactRef,
  encodeNumber,
  type MetricPoint,
  runFolder,
  type TaskProgress,
  taskFileName,
  type TrackingSegment,
  writeUncancelled,
} from './tracking-files';

export interface StoreTrackingOptions {
  /** Longest a change waits before it is written; default 1,000 ms. A killed run loses at most this much. */
  flushMs?: number;
  /** Metric points per segment file before it is sealed and the next one opens; default 2,000. */
  segmentPoints?: number;
  /** Pending points that trigger a flush at once; default 500. */
  batchPoints?: number;
}

/**
 * Tracking for one task attempt, kept in the store beside the run record.
 * Changes are buffered and written in batches (at most `flushMs` apart, or
 * sooner when `batchPoints` metric points wait); every write replaces the
 * open segment atomically, so readers see a whole batch or the one before.
 * Storage trouble is logged once and never reaches the task.
 */
export class StoreTracking implements Tracking {
  private readonly params = new Map<string, string>();
  private readonly tags = new Map<string, string>();
  private readonly artifacts = new Map<string, ArtifactRef>();
  private readonly nextStep = new Map<string, number>();
  private progressState: TaskProgress | undefined;
  private points: MetricPoint[] = [];
  private segment = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private warned = false;
  private readonly flushMs: number;
  private readonly segmentPoints: number;
  private readonly batchPoints: number;
  private pendingPoints = 0;

  constructor(
    readonly store: Store,
    readonly runId: string,
    readonly taskId: string,
    readonly attempt: number,
    private readonly logger?: Logger,
    options: StoreTrackingOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 1000;
    this.segmentPoints = options.segmentPoints ?? 2000;
    this.batchPoints = options.batchPoints ?? 500;
  }

  logParam(key: string, value: TrackedValue): void {
    checkKey('parameter', key);
    const text = checkValue('parameter', key, value, trackingLimits.paramValueLength);
    const before = this.params.get(key);
    if (before === text) return;
    if (before !== undefined) {
      throw new TrackingError(`parameter "${key}" is already "${before.slice(0, 80)}"; a parameter is set once (log a metric or set a tag for values that change).`, key);
    }
    this.params.set(key, text);
    this.changed();
  }

  logParams(params: Readonly<Record<string, TrackedValue>>): void {
    // All checked before any is kept: a bad batch records nothing, as MLflow's log_batch.
    for (const [key, value] of Object.entries(params)) {
      checkKey('parameter', key);
      const text = checkValue('parameter', key, value, trackingLimits.paramValueLength);
      const before = this.params.get(key);
      if (before !== undefined && before !== text) throw new TrackingError(`parameter "${key}" is already "${before.slice(0, 80)}"; a parameter is set once.`, key);
    }
    for (const [key, value] of Object.entries(params)) this.logParam(key, value);
  }

  logMetric(key: string, value: number, step?: number): void {
    checkKey('metric', key);
    checkMetric(key, value, step);
    const at = step ?? this.nextStep.get(key) ?? 0;
    this.nextStep.set(key, Math.max(this.nextStep.get(key) ?? 0, at + 1));
    this.points.push({ key, value: encodeNumber(value) as number, step: at, time: Date.now() });
    this.pendingPoints++;
    this.changed(this.pendingPoints >= this.batchPoints);
  }

  setTag(key: string, value: TrackedValue): void {
    checkKey('tag', key);
    this.tags.set(key, checkValue('tag', key, value, trackingLimits.tagValueLength));
    this.changed();
  }

  logArtifact(name: string, target: Target): void {
    checkKey('artifact', name);
    if (typeof target?.uri !== 'string') throw new TrackingError(`artifact "${name}" needs a file or folder target, got ${typeof target}.`, name);
    this.artifacts.set(name, { name, uri: target.uri });
    this.changed();
  }

  /** How far the task is: shown by the UI while it runs. */
  progress(done: number, total: number, note?: string): void {
    if (!Number.isFinite(done) || !Number.isFinite(total)) return;
    this.progressState = { done, total, ...(note === undefined ? {} : { note: String(note).slice(0, 500) }), time: Date.now() };
    this.changed();
  }

  /** Writes what is pending now; resolves when it is stored (or failed, logged). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty) this.enqueue();
    await this.writing;
  }

  private changed(now = false): void {
    this.dirty = true;
    if (now) {
      void this.flush();
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  private enqueue(): void {
    this.dirty = false;
    this.pendingPoints = 0;
    const segment: TrackingSegment = {
      format: 'dagwright.tracking/1',
      runId: this.runId,
      taskId: this.taskId,
      attempt: this.attempt,
      segment: this.segment,
      params: Object.fromEntries(this.params),
      tags: Object.fromEntries(this.tags),
      artifacts: [...this.artifacts.values()],
      ...(this.progressState ? { progress: this.progressState } : {}),
      metrics: this.points,
      updatedAt: new Date().toISOString(),
    };
    if (this.points.length >= this.segmentPoints) {
      this.segment++;
      this.points = [];
    }
    this.writing = this.writing.then(() => this.write(segment));
  }

  private async write(segment: TrackingSegment): Promise<void> {
    try {
      const folder = runFolder(this.store, this.runId, 'tracking');
      await writeUncancelled(folder, `${taskFileName(this.taskId)}/${this.attempt}-${segment.segment}.json`, JSON.stringify(segment));
    } catch (err) {
      if (!this.warned) this.logger?.warn({ err, taskId: this.taskId }, 'could not write tracking to the store; the task goes on');
      this.warned = true;
    }
  }
}
