import type { Store } from '../store/store';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { listFiles, runFolder, taskFileName, writeUncancelled } from './tracking-files';

export interface TaskLogOptions {
  /** Bytes kept per task: the first `headBytes` and the newest lines up to the rest; default 512 KiB. */
  maxBytes?: number;
  /** Default 64 KiB. */
  headBytes?: number;
  /** Longest a line waits before it is written; default 1,000 ms. */
  flushMs?: number;
}

/** The name of the file holding lines of a run that name no task. */
export const runLogName = '_run';

/** One task's log lines, bounded: the head is kept, then the newest lines; what fell between is counted. */
class BoundedLog {
  readonly head: string[] = [];
  private headSize = 0;
  tail: string[] = [];
  private tailSize = 0;
  dropped = 0;
  dirty = false;
  /** Holds a line besides the scheduler's "task started" / "task succeeded": only such logs are written. */
  worthKeeping = false;

  constructor(
    private readonly headBytes: number,
    private readonly tailBytes: number,
  ) {}

  add(line: string): void {
    this.dirty = true;
    if (!this.worthKeeping && !lifecycleLine.test(line)) this.worthKeeping = true;
    if (this.tail.length === 0 && this.dropped === 0 && this.headSize + line.length <= this.headBytes) {
      this.head.push(line);
      this.headSize += line.length;
      return;
    }
    this.tail.push(line);
    this.tailSize += line.length;
    let drop = 0;
    while (this.tailSize > this.tailBytes && drop < this.tail.length - 1) this.tailSize -= this.tail[drop++].length;
    if (drop > 0) {
      this.tail = this.tail.slice(drop);
      this.dropped += drop;
    }
  }

  text(): string {
    const gap = this.dropped > 0 ? [`${JSON.stringify({ level: 40, time: Date.now(), msg: `... ${this.dropped} log line(s) dropped here (the log of a task is kept to its first and last lines) ...`, dropped: this.dropped })}\n`] : [];
    return [...this.head, ...gap, ...this.tail].join('');
  }
}

const runIdField = /"runId":"([A-Za-z0-9][A-Za-z0-9._-]*)"/;
// The scheduler's own lines about every attempt; their facts are in the run record already.
const lifecycleLine = /^\{"level":30,.*"msg":"task (started|succeeded)"\}\n$/;
const taskIdField = /"taskId":("(?:[^"\\]|\\.)*")/;

/**
 * A pino destination that keeps each task's log lines with its run in the
 * store, `<store>/_run-data/<runId>/logs/<task>.log` (JSON lines), so they can be
 * read after the process is gone. Tee the flow's logger into it. Written in
 * batches like tracking; never throws into the logger. A task whose only
 * lines are the scheduler's start and success lines gets no file.
 */
export class TaskLogSink {
  private readonly logs = new Map<string, Map<string, BoundedLog>>();
  /** Runs whose logs are written for good: later lines would replace them with a fragment. */
  private readonly finished = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private warned = false;
  private readonly headBytes: number;
  private readonly tailBytes: number;
  private readonly flushMs: number;

  constructor(
    readonly store: Store,
    private readonly logger?: Logger,
    options: TaskLogOptions = {},
  ) {
    this.headBytes = options.headBytes ?? 64 * 1024;
    this.tailBytes = (options.maxBytes ?? 512 * 1024) - this.headBytes;
    this.flushMs = options.flushMs ?? 1000;
  }

  /** pino's destination interface: one JSON line (or several) per call. */
  write(chunk: string): boolean {
    for (const line of chunk.split(/(?<=\n)/)) {
      if (line.length > 0) this.add(line.endsWith('\n') ? line : `${line}\n`);
    }
    return true;
  }

  private add(line: string): void {
    const runId = runIdField.exec(line)?.[1];
    if (!runId || this.finished.has(runId)) return;
    const taskField = taskIdField.exec(line)?.[1];
    let taskId = runLogName;
    if (taskField) {
      try {
        taskId = JSON.parse(taskField) as string;
      } catch {
        return;
      }
    }
    let run = this.logs.get(runId);
    if (!run) this.logs.set(runId, (run = new Map()));
    let log = run.get(taskId);
    if (!log) run.set(taskId, (log = new BoundedLog(this.headBytes, this.tailBytes)));
    log.add(line);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /**
   * Writes every changed log now, a few at a time. One flush at a time: a
   * flush asked for while one runs follows it, so a slow store never piles
   * up old copies of the same log.
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => this.writeChanged());
    return this.writing;
  }

  private async writeChanged(): Promise<void> {
    const changed: { runId: string; name: string; text: string }[] = [];
    for (const [runId, run] of this.logs) {
      for (const [taskId, log] of run) {
        // A task that logged nothing of its own costs no write: thousands of tiny tasks stay cheap.
        if (!log.dirty || !log.worthKeeping) continue;
        log.dirty = false;
        changed.push({ runId, name: `${taskId === runLogName ? runLogName : taskFileName(taskId)}.log`, text: log.text() });
      }
    }
    const limit = pLimit(8);
    await Promise.all(changed.map((c) => limit(() => this.writeLog(c.runId, c.name, c.text))));
  }

  /** Flushes run `runId`'s logs and forgets them (a scheduled service runs many runs). */
  async finishRun(runId: string): Promise<void> {
    await this.flush();
    this.finished.add(runId);
    this.logs.delete(runId);
  }

  private async writeLog(runId: string, name: string, text: string): Promise<void> {
    try {
      await writeUncancelled(runFolder(this.store, runId, 'logs'), name, text);
    } catch (err) {
      if (!this.warned) this.logger?.warn({ err }, 'could not keep task logs in the store; the run goes on');
      this.warned = true;
    }
  }
}

/** The kept log of `taskId` in run `runId` (JSON lines), or undefined when none was kept. */
export async function readTaskLog(store: Store, runId: string, taskId: string): Promise<string | undefined> {
  const folder = runFolder(store, runId, 'logs');
  const name = `${taskId === runLogName ? runLogName : taskFileName(taskId)}.log`;
  const path = folder.fs.join(folder.path, name);
  try {
    if (!(await folder.fs.exists(path))) return undefined;
    return (await folder.fs.read(path)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Names of the kept logs of a run (task file names without `.log`). */
export async function listTaskLogs(store: Store, runId: string): Promise<string[]> {
  return (await listFiles(runFolder(store, runId, 'logs'))).filter((n) => n.endsWith('.log')).map((n) => n.slice(0, -4));
}
