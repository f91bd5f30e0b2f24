/**
 * Every error dagwright throws on purpose. Each says when it is thrown; messages
 * name the culprit and how to fix it. `retryable` tells the scheduler whether
 * another attempt of the same task could succeed.
 */
export class DagwrightError extends Error {
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A task parameter is missing, unknown, or not of its declared kind. */
export class ParameterError extends DagwrightError {
  constructor(
    readonly family: string,
    readonly parameter: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(
      value === undefined
        ? `${family}: parameter "${parameter}" is missing; expected ${expected}.`
        : `${family}: parameter "${parameter}" got ${JSON.stringify(value)}; expected ${expected}.`,
    );
  }
}

/** `requires()` returned something other than tasks. */
export class InvalidRequirementError extends DagwrightError {
  constructor(readonly taskId: string, readonly returned: string) {
    super(
      `${taskId}: requires() must return a Task, an array of Tasks or a record of Tasks, ` +
        `but returned ${returned}. Targets belong in output(); return the task that produces them.`,
    );
  }
}

/** `output()` returned something other than targets. */
export class InvalidOutputError extends DagwrightError {
  constructor(readonly taskId: string, readonly returned: string) {
    super(
      `${taskId}: output() must return a Target, an array of Targets or a record of Targets, ` +
        `but returned ${returned}.`,
    );
  }
}

/** The tasks' requirements form a cycle; `cycle` lists the ids in order. */
export class CycleError extends DagwrightError {
  constructor(readonly cycle: readonly string[]) {
    super(`the task graph has a cycle: ${[...cycle, cycle[0]].join(' -> ')}. Break it in one of these requires().`);
  }
}

/** A task's run() returned but its outputs are not all there. */
export class MissingOutputError extends DagwrightError {
  override readonly retryable = true;
  constructor(readonly taskId: string, readonly missing: readonly string[]) {
    super(
      `${taskId}: run() finished but the task is not complete` +
        (missing.length > 0 ? `; missing outputs: ${missing.join(', ')}` : ' (complete() returned false)') +
        '. run() must write every target that output() declares.',
    );
  }
}

/** An attempt ran longer than the task's `timeoutMs`. */
export class TaskTimeoutError extends DagwrightError {
  override readonly retryable = true;
  constructor(readonly taskId: string, readonly timeoutMs: number) {
    super(`${taskId}: attempt timed out after ${timeoutMs} ms (the task's timeoutMs).`);
  }
}

/** The run was cancelled (SIGINT, SIGTERM or an aborted signal) while the task was running. */
export class CancelledError extends DagwrightError {
  constructor(readonly taskId?: string) {
    super(taskId ? `${taskId}: cancelled` : 'cancelled');
  }
}

/** A run() failed; wraps the task's own error with its id and attempt. */
export class TaskFailedError extends DagwrightError {
  override readonly retryable = true;
  constructor(readonly taskId: string, cause: unknown) {
    super(`${taskId}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The command line or the flow's configuration is wrong: exit code 2. */
export class UsageError extends DagwrightError {}

/** Describes an unexpected value for error messages: its kind and a short preview. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array containing ${value.map(describeValue).join(', ') || 'nothing'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor?.name;
    return ctor && ctor !== 'Object' ? `a ${ctor}` : `an object with keys ${Object.keys(value).join(', ')}`;
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}
