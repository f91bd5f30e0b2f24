import type { Logger } from 'pino';
import { describeValue, InvalidOutputError, InvalidRequirementError, MissingExternalDataError } from './errors';
import { type ParamSpecs, type ParamValue, resolveParams } from './params';
import { isTarget, type Target } from './targets/target';
import type { RetryPolicy } from './retry-policy';
import { familyOf, TaskClassRegistry } from './task-classes';
import { outputsFresh } from './output-age';
import { taskId } from './task-id';
import type { Tracking } from './task-tracking';
import type { JsonValue } from './task-events';
import type { TaskResults } from './task-results';

/** What `run()` receives. */
export interface TaskContext {
  readonly runId: string;
  readonly taskId: string;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** Aborted when the run is cancelled or the attempt times out; stop work and throw. */
  readonly signal: AbortSignal;
  /** Bound to the run id and task id. */
  readonly logger: Logger;
  /** Experiment tracking for this attempt (params, metrics, tags, artifacts); `noTracking` when the run has none. */
  readonly tracking: Tracking;
  /**
   * Reports how far the attempt got (`done` of `total`, e.g. batches or
   * epochs); the scheduler emits it as a `task:progress` event for the
   * terminal view, the UI and the run history. Cheap: call it as often as
   * you like.
   */
  progress(done: number, total: number, note?: string): void;
  /**
   * Sends a task event (Luigi's `trigger_event`): a name such as
   * `model:trained` and a JSON payload of at most 16 KiB. The flow's
   * subscribers (`on` in `run()` / `runFlow()`) get it, `onEvent` sees it as
   * a `task:event`, and run history keeps it (`dagwright runs show`). Works
   * the same from a container step. Throws `TaskEventError` on a bad name or
   * payload.
   */
  emit(name: string, payload?: JsonValue): void;
  /**
   * Dynamic requirements: tasks this one found it needs while running. When
   * they are all complete it returns their outputs (in the shape given, like
   * `input()`). Otherwise the attempt is suspended: its worker slot is freed,
   * the scheduler runs them (through the same executor) and then starts this
   * task's `run()` again from the top, where the same call returns at once.
   * Keep the work before the call cheap, and do not catch what it throws.
   */
  require<R extends Requirements>(tasks: R): Promise<InputOf<R>>;
  /**
   * Task return values: `await ctx.results.of(requirement)` is what that
   * requirement's `run()` returned (a JSON value of at most 1 MiB), in this
   * run or, when it was found complete, an earlier one. A flow keeps results
   * in its store (`<store>/_results/<taskId>.json`), `run()` in memory unless
   * given `results`. Throws `TaskResultError` when the task has none kept.
   */
  readonly results: TaskResults;
  /** For a task with `runsAfterFailedRequirements`: the ids of its requirements that failed, were blocked or are missing. */
  readonly failedRequirements: readonly string[];
  /** True when the run was told to run this task again (`--rerun`), so complete outputs do not mean "skip it". */
  readonly rerun?: boolean;
}

/** How a task ended, for its `onSuccess` / `onFailure` hooks. */
export interface TaskOutcome {
  readonly taskId: string;
  readonly attempts: number;
  readonly durationMs: number;
}

/** What a task needs from the machine that runs it; executors map these to their own settings. */
export interface TaskResources {
  /** Container image for executors that run containers; their default runner image otherwise. */
  image?: string;
  cpus?: number;
  memoryMb?: number;
  gpus?: number;
  /** 'none' (default) or 'host', for a step that must reach a server. */
  network?: 'none' | 'host';
  /** Extra environment for the step. */
  env?: Record<string, string>;
  /** Host folders or files the step needs besides the project and the store, at `target` (default: the same path). */
  mounts?: readonly TaskMount[];
  /** Numeric "uid:gid" to run as; default: the user running the flow, so outputs belong to them. */
  user?: string;
  /** Where a step may run, for executors that schedule over several machines (Swarm constraints, e.g. `node.labels.gpu==true`); ignored by the others. */
  placement?: readonly string[];
}

/** A host path made visible to a step that runs elsewhere. */
export interface TaskMount {
  source: string;
  /** Default: the same absolute path as `source`. */
  target?: string;
  /** Default false. */
  readOnly?: boolean;
}

/** Any task, whatever its parameters. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTask = Task<any>;

export type Requirements = AnyTask | readonly AnyTask[] | Readonly<Record<string, AnyTask>>;
export type Outputs = Target | readonly Target[] | Readonly<Record<string, Target>>;

type OutputOf<T> = T extends AnyTask ? ReturnType<T['output']> : never;
/** The shape of `input()`: each requirement replaced by its outputs. */
export type InputOf<R> = R extends AnyTask
  ? OutputOf<R>
  : R extends readonly AnyTask[]
    ? OutputOf<R[number]>[]
    : { [K in keyof R]: OutputOf<R[K]> };

/** The constructor side of a task class, as the scheduler and CLI see it. */
export interface TaskClass<T extends AnyTask = AnyTask> {
  new (params: never): T;
  readonly params: ParamSpecs;
  readonly name: string;
  readonly family?: string;
}

export function flatten<T>(value: T | readonly T[] | Readonly<Record<string, T>> | undefined | null): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  if (value instanceof Task || isTarget(value)) return [value];
  if (typeof value === 'object') return Object.values(value);
  return [value];
}

/**
 * A unit of work. Subclasses declare `static params`, then override
 * `requires()`, `output()` and `run()`. Parameters are checked when the task
 * is constructed, so a bad value fails before anything runs.
 */
export abstract class Task<P extends object = object> {
  /** Declared parameters; see `param`. */
  static params: ParamSpecs = {};
  /** The family in task ids; the class name when not set. */
  static family?: string;

  readonly params: Readonly<Required<P>>;
  // Settings a subclass overrides with a field (`override readonly retries = 3`);
  // declared without a value so the subclass's own field or constructor decides.
  /** Change when the task's logic changes, so old outputs (under its id) no longer count; default ''. */
  declare readonly version?: string;
  /** Further attempts after a failed one; default 0. */
  declare readonly retries?: number;
  /** Wait before the first retry, doubling for each later one; default 1000 ms. */
  declare readonly retryDelayMs?: number;
  /** Limit for one attempt: the attempt is aborted and fails when it passes; default none. */
  declare readonly timeoutMs?: number;
  /** What the step needs when an executor runs it elsewhere; default {}. */
  declare readonly resources?: TaskResources;
  /** Among tasks ready at once, higher runs first; ties keep a stable order; default 0. */
  declare readonly priority?: number;
  /** Units of named concurrency pools this task holds while it runs (`{ gpu: 1 }`); capacities come from the run (`pools`, `--pool gpu=1`). */
  declare readonly pools?: Readonly<Record<string, number>>;
  /** When and how often to retry, as data; overrides `retries` / `retryDelayMs`. */
  declare readonly retryPolicy?: RetryPolicy;
  /** Runs once its requirements finished, whatever their outcome (a report, a clean-up); `ctx.failedRequirements` says which failed. */
  declare readonly runsAfterFailedRequirements?: boolean;
  /**
   * Result caching with expiry (Prefect's `cache_expiration`): outputs older
   * than this (by when they were written) no longer make the task complete,
   * so it runs again; default: outputs never expire. Needs local or S3 outputs.
   */
  declare readonly cacheExpirationMs?: number;
  /** Its requirements are checked with one listing per output folder however few they are (a range of days); default: only from 64 on. */
  declare readonly listsRequirements?: boolean;

  /** Called once when the task succeeded in this run (not after each attempt); its errors are logged, never fail the task. */
  onSuccess?(outcome: TaskOutcome): void | Promise<void>;
  /** Called once when the task failed for good (after the last retry); its errors are logged. */
  onFailure?(error: Error, outcome: TaskOutcome): void | Promise<void>;

  private cachedId: string | undefined;

  constructor(...[params]: {} extends P ? [params?: P] : [params: P]) {
    const cls = this.constructor as TaskClass;
    this.params = resolveParams(this.family, cls.params, (params ?? {}) as Record<string, unknown>) as Required<P>;
    taskClasses.remember(cls, this.family);
  }

  get family(): string {
    return familyOf(this.constructor as TaskClass);
  }

  /** Deterministic: family, a readable summary of the parameters, and a hash of them and `version`. */
  get id(): string {
    this.cachedId ??= taskId(
      this.family,
      (this.constructor as TaskClass).params,
      this.params as Record<string, ParamValue>,
      this.version ?? '',
    );
    return this.cachedId;
  }

  /** The tasks whose outputs this one reads. */
  requires(): Requirements {
    return [];
  }

  /** The targets this task writes. */
  output(): Outputs {
    return [];
  }

  /** The outputs of `requires()`, in the same shape. */
  input(): InputOf<ReturnType<this['requires']>> {
    return outputsOf(this.requires()) as never;
  }

  /** True when every output exists (and, with `cacheExpirationMs`, is younger than that). A task with no outputs is never complete unless it overrides this. */
  async complete(): Promise<boolean> {
    const outputs = this.outputList();
    if (outputs.length === 0) return false;
    const found = await Promise.all(outputs.map((t) => t.exists()));
    if (!found.every(Boolean)) return false;
    return this.cacheExpirationMs === undefined || outputsFresh(this.id, outputs, this.cacheExpirationMs);
  }

  /**
   * The work. It may return a small JSON value (at most 1 MiB), kept as the
   * task's result under its id and handed to dependents (`ctx.results.of`);
   * returning nothing removes an older result. Typed `unknown` so interfaces
   * and unions of shapes need no casts; what is not JSON fails the attempt
   * with a `TaskResultError`.
   */
  abstract run(ctx: TaskContext): Promise<unknown>;

  /** `requires()` as a flat list, checked: anything but a task is an error naming this task. */
  requirementList(): AnyTask[] {
    const list = flatten(this.requires());
    for (const item of list) {
      if (!(item instanceof Task)) throw new InvalidRequirementError(this.id, describeValue(item));
    }
    return list as AnyTask[];
  }

  /** `output()` as a flat list, checked. */
  outputList(): Target[] {
    const list = flatten(this.output());
    for (const item of list) {
      if (!isTarget(item)) throw new InvalidOutputError(this.id, describeValue(item));
    }
    return list as Target[];
  }

  /** Uses the default `complete()`: outputs decide, and a task without outputs has nothing to check after running. */
  get completeByOutputs(): boolean {
    return this.complete === Task.prototype.complete;
  }

  toString(): string {
    return this.id;
  }
}

export function isTaskClass(value: unknown): value is TaskClass {
  return typeof value === 'function' && value.prototype instanceof Task;
}

/** Task classes by family (every class constructed in this process, then loaded modules' exports). */
export const taskClasses = new TaskClassRegistry<TaskClass>(isTaskClass);

/**
 * Makes task classes findable by family before any is constructed: needed
 * for a class a step may ask for dynamically when modules are not loaded
 * through CommonJS `require` (ES modules, or a test runner's own loader),
 * whose exports cannot be searched.
 */
export function registerTaskClasses(...classes: TaskClass[]): void {
  for (const cls of classes) taskClasses.remember(cls);
}

/** Requirements replaced by their outputs, in the same shape (what `input()` and `ctx.require()` return). */
export function outputsOf<R extends Requirements>(required: R): InputOf<R> {
  const outputOf = (t: AnyTask) => t.output();
  if (required instanceof Task) return outputOf(required) as never;
  if (Array.isArray(required)) return required.map(outputOf) as never;
  return Object.fromEntries(Object.entries(required).map(([k, t]) => [k, outputOf(t as AnyTask)])) as never;
}

/**
 * Data made outside the flow (a daily export, a file a person drops): never
 * run, only checked. When its outputs are missing the run reports "missing
 * external data", blocks what needs it, and a flow script exits with 66.
 */
export abstract class ExternalTask<P extends object = object> extends Task<P> {
  override requires(): Requirements {
    return [];
  }

  async run(): Promise<void> {
    throw new MissingExternalDataError(this.id, []);
  }
}

/** A task that only gathers others: complete when all of its requirements are. */
export class WrapperTask<P extends object = object> extends Task<P> {
  override async complete(): Promise<boolean> {
    const found = await Promise.all(this.requirementList().map((t) => t.complete()));
    return found.every(Boolean);
  }

  async run(): Promise<void> {}
}
