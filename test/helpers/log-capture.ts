import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';

/** A pino logger whose JSON lines are kept in `lines`, parsed. */
export function captureLogger(level = 'debug'): { logger: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
