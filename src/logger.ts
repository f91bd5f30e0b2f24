import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { redactSecrets } from './secrets';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const logLevels: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface LoggerOptions {
  level?: LogLevel;
  /**
   * Where the JSON lines go (a flow's live view of its run, see runFlow);
   * default: `fd`, as readable lines on a terminal and JSON lines otherwise.
   */
  stream?: { write(line: string): unknown };
  /** Readable lines instead of JSON when no `stream` is given; default: when `fd` is a terminal. */
  pretty?: boolean;
  /** File descriptor to write to when no `stream` is given; default 2 (stderr), keeping stdout for results such as --graph. */
  fd?: number;
  /** A second destination that gets every JSON line too (the store's per-task logs, see TaskLogSink). */
  tee?: { write(line: string): unknown };
}

/** Keys whose values never reach a log line, wherever they appear one level down. */
const secrets = ['secretAccessKey', 'sessionToken', 'password', 'authorization', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

/**
 * JSON lines for machines (cron, CI, containers), one readable line per
 * event on a terminal, or whatever `stream` the caller gives (runFlow gives
 * its live view). Writes synchronously so nothing is lost when the process
 * exits.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const fd = options.fd ?? 2;
  const readable = options.pretty ?? Boolean(fd === 2 ? process.stderr.isTTY : process.stdout.isTTY);
  const config = {
    level: options.level ?? 'info',
    base: { pid: process.pid },
    redact: { paths: [...secrets, ...secrets.map((k) => `*.${k}`)], censor: '[redacted]' },
    // Values of secret parameters (param.string({ secret: true })) never reach a line, whatever field carries them.
    hooks: { streamWrite: redactSecrets },
  };
  const stream = options.stream ?? (readable ? readableLines(fd, !process.env.NO_COLOR) : pino.destination({ dest: fd, sync: true }));
  if (!options.tee || config.level === 'silent') return pino(config, stream);
  return pino(config, pino.multistream([{ level: config.level, stream }, { level: config.level, stream: options.tee as { write(line: string): void } }]));
}

// Log records as a terminal shows them: one line per event (instead of pino-pretty's four to six). The live
// view (flow/live-view.ts) prints the same lines above its status block.

const levels: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '\x1b[90m' },
  20: { name: 'DEBUG', color: '\x1b[36m' },
  30: { name: 'INFO ', color: '\x1b[32m' },
  40: { name: 'WARN ', color: '\x1b[33m' },
  50: { name: 'ERROR', color: '\x1b[31m' },
  60: { name: 'FATAL', color: '\x1b[35m' },
};
const dim = '\x1b[2m';
const reset = '\x1b[0m';
/** Fields every line has, or that the line shows in its own place. */
const shownElsewhere = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'runId', 'taskId']);

/** `Family_summary_hash` shortened to `Family…hash` (the part that tells tasks apart at a glance). */
export function shortTaskId(taskId: string, max = 28): string {
  if (taskId.length <= max) return taskId;
  const family = taskId.slice(0, taskId.indexOf('_') > 0 ? taskId.indexOf('_') : 12);
  const hash = taskId.slice(taskId.lastIndexOf('_') + 1);
  return `${family.slice(0, max - hash.length - 1)}…${hash}`;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) || value === '' ? JSON.stringify(value) : value;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

function errorText(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { type, message } = err as { type?: string; message?: string };
  return `${type ?? 'Error'}: ${message ?? ''}`;
}

function clock(time: unknown): string {
  const date = new Date(typeof time === 'number' ? time : Date.now());
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** One pino record as one line: time, level, task, message, then the other fields as key=value (an error as its type and message). */
export function formatLogLine(record: Record<string, unknown>, color: boolean): string {
  const level = levels[record.level as number] ?? { name: String(record.level), color: '' };
  const paint = (code: string, text: string) => (color ? `${code}${text}${reset}` : text);
  const parts = [paint(dim, clock(record.time)), paint(level.color, level.name)];
  if (typeof record.taskId === 'string') parts.push(paint('\x1b[1m', shortTaskId(record.taskId)));
  parts.push(String(record.msg ?? ''));
  for (const [key, value] of Object.entries(record)) {
    if (shownElsewhere.has(key) || value === undefined) continue;
    parts.push(paint(dim, `${key}=`) + (key === 'err' ? errorText(value) : fieldText(value)));
  }
  return parts.join(' ');
}

/** A pino stream writing each JSON line as one readable line to `fd` (synchronously, so nothing is lost at exit). */
export function readableLines(fd: number, color: boolean): { write(chunk: string): boolean } {
  return {
    write(chunk: string): boolean {
      for (const line of chunk.split('\n')) {
        if (line.trim() === '') continue;
        writeSync(fd, `${readableLine(line, color)}\n`);
      }
      return true;
    },
  };
}

/** One JSON line as readable text; a line that is not JSON as it is. */
function readableLine(line: string, color: boolean): string {
  try {
    return formatLogLine(JSON.parse(line) as Record<string, unknown>, color);
  } catch {
    return line;
  }
}
