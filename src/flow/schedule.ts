import { Cron } from 'croner';
import type { Logger } from 'pino';
import { UsageError } from '../errors';
import { ExitCode } from '../step/exit-codes';

/** Checks a `--schedule` pattern: 5 fields (minute precision) or 6 (with seconds first). */
export function checkSchedule(pattern: string): void {
  try {
    new Cron(pattern, { paused: true }).stop();
  } catch (err) {
    throw new UsageError(
      `--schedule got "${pattern}": ${(err as Error).message}. Expected a cron pattern such as "*/30 * * * *" (minute hour day month weekday), ` +
        'or six fields with seconds first.',
    );
  }
}

export interface ScheduleOptions {
  readonly logger: Logger;
  /** Aborted by SIGINT/SIGTERM: no further tick starts, the run in progress is cancelled. */
  readonly signal: AbortSignal;
  /** IANA time zone for the pattern; default: the machine's. */
  readonly timezone?: string;
}

/**
 * Runs `runOnce` on a cron schedule in the foreground until `signal` aborts.
 * A tick that finds the previous run still going is skipped and logged (and
 * a run of the same flow in another process makes the tick exit with the
 * lock's code, as from cron). Returns the last run's exit code; the caller
 * turns a stop by signal into 130/143.
 */
export async function runOnSchedule(pattern: string, runOnce: (signal: AbortSignal) => Promise<number>, options: ScheduleOptions): Promise<number> {
  const { logger, signal } = options;
  let last: number = ExitCode.ok;
  let current: Promise<number> | undefined;
  const job = new Cron(
    pattern,
    {
      ...(options.timezone === undefined ? {} : { timezone: options.timezone }),
      protect: () => logger.warn({ schedule: pattern }, 'the previous scheduled run is still going; skipping this tick'),
      catch: (err) => logger.error({ err }, 'a scheduled run failed unexpectedly'),
    },
    async () => {
      if (signal.aborted) return;
      logger.info({ schedule: pattern }, 'scheduled run starting');
      current = runOnce(signal);
      try {
        last = await current;
      } finally {
        current = undefined;
      }
      if (!signal.aborted) logger.info({ exitCode: last, next: job.nextRun()?.toISOString() }, 'scheduled run finished');
    },
  );
  logger.info({ schedule: pattern, next: job.nextRun()?.toISOString() }, 'running on a schedule; SIGINT or SIGTERM stops');
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  job.stop();
  if (current) {
    logger.warn('stopping: cancelling the run in progress');
    last = await current.catch(() => ExitCode.taskFailed);
  }
  logger.info('scheduler stopped');
  return last;
}
