import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';
import { progressOf } from '../../step/progress';
import { eventOf } from '../../step/events';
import type { JsonValue } from '../../task-events';
import type { Redactor } from './redact';

const levelNames: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** Fields of a step's own pino line that the task's logger adds again (or that describe the container's process). */
const dropped = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'runId', 'taskId']);

/** The longest line kept whole; longer ones are cut so one runaway line cannot exhaust memory. */
const maxLine = 64 * 1024;

type StreamName = 'stdout' | 'stderr';

/**
 * Turns a step's output into log records on the task's logger: each pino JSON
 * line is logged again at its own level with its own fields, any other line
 * at info with the stream it came from. Keeps the last lines for error messages.
 */
export class StepLogSink {
  readonly stdout: Writable;
  readonly stderr: Writable;
  private readonly lastLines: string[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly redactor: Redactor,
    private readonly tailSize = 20,
    /** Where a step's progress lines go (`ctx.progress` of the attempt) instead of the log. */
    private readonly onProgress?: (done: number, total: number, note?: string) => void,
    /** Where a step's event lines go (`ctx.emit` of the attempt) instead of the log. */
    private readonly onTaskEvent?: (name: string, payload: JsonValue) => void,
  ) {
    this.stdout = this.lineWriter('stdout');
    this.stderr = this.lineWriter('stderr');
  }

  /** The last lines (at most `tailSize`), credentials removed. */
  tail(): string[] {
    return [...this.lastLines];
  }

  private remember(line: string): void {
    this.lastLines.push(line.length > 500 ? `${line.slice(0, 500)}...` : line);
    if (this.lastLines.length > this.tailSize) this.lastLines.shift();
  }

  /** One complete line from a stream (without its newline). */
  line(stream: StreamName, raw: string): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') return;
    if (text.startsWith('{')) {
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch {
        record = undefined;
      }
      if (record !== null && typeof record === 'object' && typeof (record as { level?: unknown }).level === 'number') {
        const fields = record as Record<string, unknown>;
        const progress = this.onProgress && progressOf(fields);
        const event = !progress && this.onTaskEvent ? eventOf(fields) : undefined;
        if (progress) this.onProgress!(progress.done, progress.total, progress.note);
        else if (event) this.taskEvent(event.name, event.payload);
        else this.relog(fields);
        return;
      }
    }
    const safe = this.redactor.text(text);
    this.remember(safe);
    this.logger.info({ stream }, safe);
  }

  /** The step checked the event; the attempt's `emit` checks it again and may refuse it (a reserved name): log that, never fail the stream. */
  private taskEvent(name: string, payload: JsonValue): void {
    try {
      this.onTaskEvent!(name, this.redactor.value(payload) as JsonValue);
    } catch (err) {
      this.logger.warn({ err }, `a task event from the step was refused: ${(err as Error).message}`);
    }
  }

  private relog(record: Record<string, unknown>): void {
    const safe = this.redactor.value(record) as Record<string, unknown>;
    const level = levelNames[safe.level as number] ?? (Number(safe.level) >= 50 ? 'error' : 'info');
    const msg = typeof safe.msg === 'string' ? safe.msg : '';
    const fields = Object.fromEntries(Object.entries(safe).filter(([k]) => !dropped.has(k)));
    const err = safe.err as { message?: unknown } | undefined;
    const errText = err && typeof err.message === 'string' ? err.message : '';
    this.remember(`${level}: ${msg}${errText && !msg.includes(errText) ? `: ${errText}` : ''}`);
    this.logger[level](fields, msg);
  }

  private lineWriter(stream: StreamName): Writable {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const emit = (text: string) => {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.line(stream, pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      if (pending.length > maxLine) {
        this.line(stream, pending);
        pending = '';
      }
    };
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        try {
          emit(decoder.write(chunk));
        } catch (err) {
          // A logger failure must not fail the step.
          void err;
        }
        callback();
      },
      final: (callback) => {
        emit(decoder.end());
        if (pending !== '') this.line(stream, pending);
        pending = '';
        callback();
      },
    });
  }
}
