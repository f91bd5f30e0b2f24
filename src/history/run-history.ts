import type { Store } from '../store/store';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { runOutsideAttempt } from '../cancellation';
import type { ParamValue } from '../params';
import type { RunSummary } from '../run';
import type { SchedulerEvent, TaskStatus } from '../scheduler';
import { countStatuses } from '../summary';
import type { FileSystem } from '../targets/file-system';
import { type EventHistory, maxRecordedEvents, type RunRecord, type RunStatus, type TaskHistory } from './run-record';
import { storeFolder } from './store-files';

const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Run records of one store, in `<store>/_runs/`, through the store's file system. */
export class RunHistory {
  constructor(
    readonly fs: FileSystem,
    readonly dir: string,
  ) {}

  static forStore(store: Store): RunHistory {
    const { fs, path } = storeFolder(store, '_runs');
    return new RunHistory(fs, path);
  }

  private pathOf(runId: string): string {
    if (!runIdPattern.test(runId)) throw new Error(`"${runId}" is not a run id`);
    return this.fs.join(this.dir, `${runId}.json`);
  }

  /** Atomic: readers see the old record or the new one. */
  async write(record: RunRecord): Promise<void> {
    const path = this.pathOf(record.runId);
    // Outside any task attempt: history is written even after a cancel or a lost lock.
    await runOutsideAttempt(() => this.fs.write(path, `${JSON.stringify(record, null, 2)}\n`));
  }

  /** The record of `runId`, or undefined when there is none. */
  async read(runId: string): Promise<RunRecord | undefined> {
    const path = this.pathOf(runId);
    if (!(await this.fs.exists(path))) return undefined;
    return JSON.parse((await this.fs.read(path)).toString('utf8')) as RunRecord;
  }

  /** Run ids, newest first (run ids sort by start time). */
  async runIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await this.fs.listDirectory(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith('.json') && !n.includes('/') && !n.startsWith('.'))
      .map((n) => n.slice(0, -'.json'.length))
      .sort()
      .reverse();
  }

  /** The newest `limit` records; unreadable ones are skipped. */
  async list(limit: number): Promise<RunRecord[]> {
    const ids = (await this.runIds()).slice(0, limit);
    const records = await Promise.all(ids.map((id) => this.read(id).catch(() => undefined)));
    return records.filter((r): r is RunRecord => r !== undefined);
  }
}

export interface RunStart {
  readonly runId: string;
  readonly flow: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** As the record keeps it: the store's URI. */
  readonly store: string;
  /** A name given to the run (`--run-name`); the UI names unnamed runs by their flow and key parameters. */
  readonly runName?: string;
}

export interface RecorderOptions {
  /** Least time between two writes while the run goes on; default 1,000. */
  throttleMs?: number;
  /** Rewrites the record this often even when nothing changed, so a live run looks alive; default 60,000. */
  keepAliveMs?: number;
}

/**
 * Keeps one run's record up to date from the scheduler's events: written at
 * start, rewritten (throttled) as tasks start and end, final at `finish`.
 * Never throws: a history that cannot be written is logged once and the run
 * goes on.
 */
export class RunRecorder {
  private record: RunRecord;
  private readonly tasks = new Map<string, TaskHistory>();
  private readonly elsewhere = new Set<string>();
  private readonly events: EventHistory[] = [];
  private eventsDropped = 0;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly keepAlive: NodeJS.Timeout;
  private failed = false;
  private finished = false;
  private readonly throttleMs: number;

  private constructor(
    private readonly history: RunHistory | undefined,
    start: RunStart,
    private readonly logger: Logger,
    options: RecorderOptions,
  ) {
    const now = new Date().toISOString();
    this.record = {
      format: 'dagwright.run/1',
      ...start,
      host: hostname(),
      pid: process.pid,
      startedAt: now,
      updatedAt: now,
      status: 'running',
      tasks: [],
    };
    this.throttleMs = options.throttleMs ?? 1000;
    this.keepAlive = setInterval(() => this.schedule(0), options.keepAliveMs ?? 60_000);
    this.keepAlive.unref();
  }

  /** Starts recording and writes the first record (status `running`). */
  static async start(store: Store, start: RunStart, logger: Logger, options: RecorderOptions = {}): Promise<RunRecorder> {
    let history: RunHistory | undefined;
    try {
      history = RunHistory.forStore(store);
    } catch (err) {
      logger.warn({ err }, `run history is not recorded: ${(err as Error).message}`);
    }
    const recorder = new RunRecorder(history, start, logger, options);
    recorder.schedule(0);
    await recorder.writing;
    return recorder;
  }

  get runId(): string {
    return this.record.runId;
  }

  onEvent(event: SchedulerEvent): void {
    const now = new Date().toISOString();
    if (event.type === 'task:start') {
      const before = this.tasks.get(event.taskId);
      const retriedAfter = before?.retriedAfter === undefined ? {} : { retriedAfter: before.retriedAfter };
      this.tasks.set(event.taskId, { id: event.taskId, status: 'running', attempts: event.attempt, startedAt: before?.startedAt ?? now, ...retriedAfter });
    } else if (event.type === 'task:retry') {
      const before = this.tasks.get(event.taskId);
      const retriedAfter = [...(before?.retriedAfter ?? []), event.error];
      this.tasks.set(event.taskId, { ...(before ?? { id: event.taskId, status: 'running' }), attempts: event.attempt, error: event.error, retriedAfter });
    } else if (event.type === 'task:progress') {
      const before = this.tasks.get(event.taskId);
      const progress = { done: event.done, total: event.total, ...(event.note === undefined ? {} : { note: event.note }) };
      this.tasks.set(event.taskId, { ...(before ?? { id: event.taskId, status: 'running', attempts: event.attempt }), progress });
    } else if (event.type === 'task:event') {
      const { taskId, attempt, name, payload } = event;
      if (this.events.length < maxRecordedEvents) this.events.push({ at: now, taskId, attempt, name, payload });
      else this.eventsDropped++;
    } else {
      const r = event.record;
      const before = this.tasks.get(r.id);
      this.tasks.set(r.id, {
        ...r,
        ...(before?.startedAt === undefined ? {} : { startedAt: before.startedAt }),
        ...(before?.progress === undefined ? {} : { progress: before.progress }),
        ...(before?.retriedAfter === undefined ? {} : { retriedAfter: before.retriedAfter }),
        endedAt: now,
        ...(this.elsewhere.has(r.id) ? { completedElsewhere: true } : {}),
      });
    }
    this.schedule(this.throttleMs);
  }

  /** A task lock found the task complete: another run made it. */
  markCompletedElsewhere(taskId: string): void {
    this.elsewhere.add(taskId);
  }

  /** Writes the final record. `summary` when the run got that far; `error` when the run itself failed. */
  async finish(result: { summary?: RunSummary; status: RunStatus; error?: string }): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    clearInterval(this.keepAlive);
    const { summary } = result;
    if (summary) {
      // The summary's order (complete first, then dependencies first) and its final word on each task.
      const merged = summary.tasks.map((t): TaskHistory => {
        const before = this.tasks.get(t.id);
        return {
          ...t,
          ...(before?.startedAt === undefined ? {} : { startedAt: before.startedAt }),
          ...(before?.endedAt === undefined ? {} : { endedAt: before.endedAt }),
          ...(before?.progress === undefined ? {} : { progress: before.progress }),
          ...(before?.retriedAfter === undefined ? {} : { retriedAfter: before.retriedAfter }),
          ...(this.elsewhere.has(t.id) ? { completedElsewhere: true } : {}),
        };
      });
      this.tasks.clear();
      for (const t of merged) this.tasks.set(t.id, t);
    }
    const ended = new Date();
    this.record = {
      ...this.record,
      status: result.status,
      endedAt: ended.toISOString(),
      durationMs: ended.getTime() - Date.parse(this.record.startedAt),
      ...(summary ? { counts: countStatuses(summary) } : {}),
      ...(result.error === undefined ? {} : { error: result.error }),
    };
    this.timer = undefined;
    this.enqueue();
    await this.writing;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined || this.finished) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueue();
    }, delayMs);
  }

  /** Writes the current state after any write in flight: one write at a time, the last one wins. */
  private enqueue(): void {
    if (!this.history) return;
    const history = this.history;
    this.writing = this.writing.then(async () => {
      const tasks = [...this.tasks.values()];
      const events = this.events.length === 0 ? {} : { events: [...this.events], ...(this.eventsDropped > 0 ? { eventsDropped: this.eventsDropped } : {}) };
      const record: RunRecord = { ...this.record, updatedAt: new Date().toISOString(), tasks, ...events };
      try {
        await history.write(record);
      } catch (err) {
        if (!this.failed) this.logger.warn({ err, runId: record.runId }, 'could not write the run history record; the run goes on');
        this.failed = true;
      }
    });
  }
}

/** The record's status for a summary. */
export function statusOfSummary(summary: RunSummary): RunStatus {
  return summary.cancelled ? 'cancelled' : summary.ok ? 'succeeded' : 'failed';
}

export type { TaskStatus };
