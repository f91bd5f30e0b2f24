/** Process exit codes of a flow script; a cron wrapper can act on each. */
export const ExitCode = {
  /** Everything asked for is complete. */
  ok: 0,
  /** A task failed (or was blocked by one): see the summary. */
  taskFailed: 1,
  /** Bad command line or configuration: nothing ran. */
  usage: 2,
  /**
   * Step protocol, not for users: a `--run-task` step suspended on dynamic
   * requirements (`ctx.require`) and wrote them to its request file.
   */
  stepNeedsRequirements: 3,
  /** Step protocol, not for users: a `--run-task` step's task failed with an error that says another attempt cannot help. */
  stepFailedNotRetryable: 4,
  /** Data made outside the flow (an `ExternalTask`) is missing; nothing of ours failed. Retry later. */
  missingExternal: 66,
  /** Another run of the same flow and parameters holds the lock: nothing ran. */
  locked: 75,
  /** Cancelled by SIGINT. */
  interrupted: 130,
  /** Cancelled by SIGTERM. */
  terminated: 143,
} as const;

/** The exit code for a finished run: a failure of ours wins over missing external data. */
export function exitCodeOf(summary: { readonly ok: boolean; readonly tasks: readonly { readonly status: string }[] }): number {
  if (summary.ok) return ExitCode.ok;
  const failed = summary.tasks.some((t) => t.status === 'failed' || t.status === 'cancelled');
  if (!failed && summary.tasks.some((t) => t.status === 'missing')) return ExitCode.missingExternal;
  return ExitCode.taskFailed;
}
