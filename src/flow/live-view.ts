/**
 * The terminal's live view: log events as one line each, and while a run
 * goes on a status block kept at the bottom (running tasks with elapsed time
 * and progress, counts of done, failed and queued; a training task's epoch
 * as a progress bar with samples/s and ETA). Used only when stderr is a
 * terminal; without one, logs stay JSON lines.
 */
import { writeSync } from 'node:fs';
import type { TaskRecord } from '../scheduler';
import { type RunEvent, watchRuns } from './live-view-events';
import { formatLogLine } from '../logger';
import { type RunningTask, statusLines } from './live-view-format';

/** How often the block is redrawn while nothing else happens (elapsed times tick). */
const redrawMs = 500;
/** Scheduler events (progress many times a second) redraw at most this often. */
const eventRedrawMs = 100;
const epochLine = /^epoch (\d+)\/(\d+)$/;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One terminal (a file descriptor) shared by every logger writing to it, so there is one status block. */
export class LiveTerminal {
  private readonly running = new Map<string, Mutable<RunningTask>>();
  private readonly firstProgress = new Map<string, { at: number; done: number }>();
  private counts = { done: 0, failed: 0, toRun: 0, complete: 0 };
  private active = false;
  private shown = 0;
  private timer: NodeJS.Timeout | undefined;
  private pendingRedraw: NodeJS.Timeout | undefined;
  private restoreStderr: (() => void) | undefined;

  constructor(
    private readonly fd: number,
    private readonly color: boolean,
  ) {
    watchRuns((event) => this.onRunEvent(event));
  }

  /** pino's stream interface: one or more JSON lines. */
  write(chunk: string): boolean {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.print(line);
        continue;
      }
      this.observe(record);
      this.print(formatLogLine(record, this.color));
    }
    return true;
  }

  /** Writes a line above the status block. */
  private print(text: string): void {
    this.clear();
    this.raw(`${text}\n`);
    this.draw();
  }

  private raw(text: string): void {
    writeSync(this.fd, text);
  }

  /** Takes what the view shows from log records: the plan's size, a training task's epochs. */
  private observe(record: Record<string, unknown>): void {
    if (typeof record.toRun === 'number' && typeof record.complete === 'number' && typeof record.tasks === 'number') {
      this.counts.toRun = record.toRun;
      this.counts.complete = record.complete;
    }
    const epoch = typeof record.msg === 'string' ? epochLine.exec(record.msg) : null;
    const task = typeof record.taskId === 'string' ? this.running.get(record.taskId) : undefined;
    if (epoch && task) {
      const n = Number(epoch[1]);
      const wallMs = typeof record.wallSeconds === 'number' ? record.wallSeconds * 1000 : undefined;
      const before = task.epochs;
      const meanEpochMs = wallMs === undefined ? before?.meanEpochMs : ((before?.meanEpochMs ?? wallMs) * (n - 1) + wallMs) / n;
      task.epochs = { epoch: n, of: Number(epoch[2]), samplesPerSecond: record.samplesPerSecond as number | undefined, meanEpochMs, lastAt: Date.now() };
    }
  }

  private onRunEvent(event: RunEvent): void {
    const now = Date.now();
    switch (event.type) {
      case 'run:start':
        this.start();
        return;
      case 'run:end':
        this.stop();
        return;
      case 'task:start':
        this.running.set(event.taskId, { taskId: event.taskId, startedAt: this.running.get(event.taskId)?.startedAt ?? now, attempt: event.attempt });
        break;
      case 'task:progress': {
        const task = this.running.get(event.taskId);
        if (!task) return;
        const first = this.firstProgress.get(event.taskId) ?? { at: now, done: event.done };
        this.firstProgress.set(event.taskId, first);
        const perSecond = now - first.at > 500 ? ((event.done - first.done) * 1000) / (now - first.at) : undefined;
        task.progress = { done: event.done, total: event.total, ...(event.note === undefined ? {} : { note: event.note }), ...(perSecond ? { perSecond } : {}) };
        break;
      }
      case 'task:end':
        this.ended(event.record);
        break;
      default:
        return;
    }
    this.pendingRedraw ??= setTimeout(() => {
      this.pendingRedraw = undefined;
      this.redraw();
    }, eventRedrawMs).unref();
  }

  private ended(record: TaskRecord): void {
    this.running.delete(record.id);
    this.firstProgress.delete(record.id);
    if (record.status === 'ran') this.counts.done++;
    else if (record.status !== 'complete') this.counts.failed++;
  }

  private start(): void {
    this.running.clear();
    this.firstProgress.clear();
    this.counts = { done: 0, failed: 0, toRun: 0, complete: 0 };
    this.active = true;
    this.timer = setInterval(() => this.redraw(), redrawMs);
    this.timer.unref();
    this.captureStderr();
  }

  private stop(): void {
    this.clear();
    this.active = false;
    clearInterval(this.timer);
    clearTimeout(this.pendingRedraw);
    this.timer = undefined;
    this.pendingRedraw = undefined;
    this.restoreStderr?.();
    this.restoreStderr = undefined;
  }

  /** Other writes to the same terminal (a summary table) go above the block too, or the block would erase them. */
  private captureStderr(): void {
    if (this.fd !== 2 || this.restoreStderr) return;
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.clear();
      const result = (original as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
      this.draw();
      return result;
    }) as typeof process.stderr.write;
    this.restoreStderr = () => {
      process.stderr.write = original;
    };
  }

  private redraw(): void {
    this.clear();
    this.draw();
  }

  private draw(): void {
    if (!this.active) return;
    const queued = Math.max(0, this.counts.toRun - this.counts.done - this.counts.failed - this.running.size);
    const tasks = [...this.running.values()].sort((a, b) => a.startedAt - b.startedAt);
    const lines = statusLines(tasks, { done: this.counts.done, failed: this.counts.failed, queued, complete: this.counts.complete }, Date.now(), process.stderr.columns || 100);
    this.raw(`${lines.join('\n')}\n`);
    this.shown = lines.length;
  }

  /** Erases the block: up as many lines as it has, then clear to the end of the screen. */
  private clear(): void {
    if (this.shown === 0) return;
    this.raw(`\x1b[${this.shown}A\x1b[0J`);
    this.shown = 0;
  }
}

const terminals = new Map<number, LiveTerminal>();

/** The live terminal for `fd` (one per descriptor, whatever the number of loggers). */
export function liveTerminal(fd: number, color = true): LiveTerminal {
  let terminal = terminals.get(fd);
  if (!terminal) {
    terminal = new LiveTerminal(fd, color);
    terminals.set(fd, terminal);
  }
  return terminal;
}

/** The stream for a flow's loggers: the live view when stderr is a terminal, else undefined (the logger's JSON lines). */
export function liveViewStream(): LiveTerminal | undefined {
  return process.stderr.isTTY ? liveTerminal(2, !process.env.NO_COLOR) : undefined;
}
