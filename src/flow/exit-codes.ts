/** Process exit codes of a flow script; a cron wrapper can act on each. */
export const ExitCode = {
  /** Everything asked for is complete. */
  ok: 0,
  /** A task failed (or was blocked by one): see the summary. */
  taskFailed: 1,
  /** Bad command line or configuration: nothing ran. */
  usage: 2,
  /** Another run of the same flow and parameters holds the lock: nothing ran. */
  locked: 75,
  /** Cancelled by SIGINT. */
  interrupted: 130,
  /** Cancelled by SIGTERM. */
  terminated: 143,
} as const;
