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

/**
 * A run() failed; wraps the task's own error with its id. Retryable unless
 * the task's error says otherwise with a `retryable: false` property (any
 * error class can opt out that way).
 */
export class TaskFailedError extends DagwrightError {
  override readonly retryable: boolean;
  constructor(readonly taskId: string, cause: unknown) {
    super(`${taskId}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.retryable = errorRetryable(cause);
  }
}

/** What an error says about another attempt: its own `retryable` property when it has one, else true. */
export function errorRetryable(err: unknown): boolean {
  const flag = typeof err === 'object' && err !== null ? (err as { retryable?: unknown }).retryable : undefined;
  return typeof flag === 'boolean' ? flag : true;
}

/** A task's `requires()` or `output()` threw: that task fails and its dependents are blocked. */
export class TaskMethodError extends DagwrightError {
  constructor(
    readonly taskId: string,
    readonly method: 'requires()' | 'output()',
    cause: unknown,
  ) {
    super(`${taskId}: ${method} threw: ${cause instanceof Error ? cause.message : String(cause)}. Fix ${method} of this task.`, { cause });
  }
}

/** Just before a task started, a requirement's outputs were gone (removed after planning). */
export class UnfulfilledRequirementError extends DagwrightError {
  constructor(
    readonly taskId: string,
    readonly requirementId: string,
    readonly missing: readonly string[],
  ) {
    super(
      `${taskId}: unfulfilled requirement ${requirementId}: ${missing.length > 0 ? `missing ${missing.join(', ')}` : 'its complete() now returns false'}. ` +
        'Something removed it after planning; run the flow again to rebuild it.',
    );
  }
}

/** An `ExternalTask`'s outputs are missing: data this flow does not produce is not there (yet). */
export class MissingExternalDataError extends DagwrightError {
  constructor(
    readonly taskId: string,
    readonly missing: readonly string[],
  ) {
    super(
      `missing external data: ${taskId} (made outside this flow) lacks ${missing.join(', ') || 'its outputs (complete() returned false)'}. ` +
        'Provide it, then run the flow again.',
    );
  }
}

/** Planning reached more tasks than `maxTasks`: most often a requires() chain that never reaches a complete task. */
export class GraphTooLargeError extends DagwrightError {
  constructor(readonly maxTasks: number, readonly lastTaskId: string) {
    super(
      `the task graph passed ${maxTasks} tasks (the last added: ${lastTaskId}). A requires() chain probably never ends ` +
        '(no complete task stops it, or --rerun forces every instance); bound it, or raise maxTasks.',
    );
  }
}

/** The command line or the flow's configuration is wrong: exit code 2. */
export class UsageError extends DagwrightError {}

/** Another process holds a lock (a run of the same flow and parameters) and the caller would not wait: exit code 75. */
export class LockedError extends DagwrightError {
  constructor(
    readonly lockPath: string,
    readonly holder: { readonly pid: number; readonly host: string; readonly startedAt: string; readonly heartbeatAt: string; readonly label?: string },
  ) {
    super(
      `${holder.label ?? 'another process'} holds the lock ${lockPath}: pid ${holder.pid} on ${holder.host} since ${holder.startedAt} ` +
        `(last heartbeat ${holder.heartbeatAt}). Wait for it (--wait) or, if that process is gone, the lock is taken over once it is stale.`,
    );
  }
}

/**
 * This process held a lock and lost it: its heartbeat stalled past the stale
 * limit (a frozen or suspended process), or another process took it over. A
 * run that lost its lock starts and publishes nothing more: exit code 75.
 */
export class LockLostError extends DagwrightError {
  constructor(
    readonly lockPath: string,
    readonly reason: string,
  ) {
    super(
      `lost the lock ${lockPath}: ${reason}. This run stops without starting or publishing anything more; ` +
        'another run now owns this work. If this process was frozen (suspended, swapped out), keep it from stalling longer than the stale limit.',
    );
  }
}

/** A target URI or `--store` value cannot be used: no bucket, an unknown scheme, a path escaping its folder. */
export class InvalidUriError extends UsageError {
  constructor(readonly uri: string, readonly reason: string) {
    super(`"${uri}": ${reason}`);
  }
}

/**
 * The flow's `--store` cannot hold outputs: it is a file, sits under a file,
 * is read-only or on a full disk. Thrown before anything is written: exit code 2.
 */
export class StoreUnusableError extends UsageError {
  constructor(
    readonly store: string,
    readonly reason: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(`--store ${store}: ${reason}. ${fix}`, options);
  }
}

/** What went wrong talking to a store's file system (S3, or a registered scheme's); `StorageError.problem`. */
export type StorageProblem =
  | 'no-such-bucket'
  | 'no-such-key'
  | 'access-denied'
  | 'bad-credentials'
  | 'no-credentials'
  | 'unreachable'
  | 'server-error'
  | 'configuration'
  | 'request-failed';

/**
 * A storage request failed for a reason other than "the object is absent": a
 * missing bucket, refused credentials, an unreachable endpoint. Thrown by the
 * S3 file system and meant for any other (a `FileSystem` registered with
 * `registerScheme` throws it too). Names the location and endpoint, never the
 * credentials; `cause` keeps only the service's error name and message.
 */
export class StorageError extends DagwrightError {
  override readonly retryable: boolean;
  readonly problem: StorageProblem;
  /** The backend's operation, e.g. `HeadObject`. */
  readonly operation: string;
  /** What was accessed, as a URI (`s3://bucket/key`, `gs://...`). */
  readonly uri: string | undefined;
  /** The bucket (or the backend's equivalent: a GCS bucket, an Azure container), when there is one. */
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  /** Where the request went, e.g. `http://127.0.0.1:4568` or `https://s3.eu-west-1.amazonaws.com`. */
  readonly endpoint: string | undefined;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;

  constructor(details: {
    problem: StorageProblem;
    operation: string;
    uri?: string;
    bucket?: string;
    key?: string;
    endpoint?: string;
    status?: number;
    retryable: boolean;
    message: string;
    cause?: unknown;
  }) {
    super(details.message, { cause: details.cause });
    this.problem = details.problem;
    this.operation = details.operation;
    this.uri = details.uri;
    this.bucket = details.bucket;
    this.key = details.key;
    this.endpoint = details.endpoint;
    this.status = details.status;
    this.retryable = details.retryable;
  }
}

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

/** A task event that cannot be sent: a bad name, a payload that is not JSON, or one over the size limit. */
export class TaskEventError extends DagwrightError {
  constructor(readonly taskId: string, readonly eventName: string, problem: string) {
    super(`task ${taskId}: event "${eventName}" ${problem}`);
  }
}

/** A task's return value that cannot be kept (not JSON, too large) or a requirement's result that is not there. */
export class TaskResultError extends DagwrightError {
  constructor(readonly taskId: string, problem: string) {
    super(`task ${taskId}: ${problem}`);
  }
}
