import pino, { type Logger } from 'pino';
import { readableLines } from './log-lines';
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
