/**
 * Log records as a terminal shows them: one line per event (instead of
 * pino-pretty's four to six). The base of the logger's readable output; the
 * live view (flow/live-view.ts) prints the same lines above its status block.
 */
import { writeSync } from 'node:fs';

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
