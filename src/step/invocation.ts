import { UsageError } from '../errors';

/**
 * How a step is started in another process or container, and how that
 * process reads what it was asked to do: the flow script again, with the
 * flow's arguments and `--run-task <id>`, plus the ids in the environment.
 * `stepInvocation` is the one builder of a step's command; `readStepRequest`
 * the one reader.
 */

/** How to start this flow again for a single task, in another process or container. */
export interface FlowInvocation {
  /** Absolute path of the flow script. */
  readonly entry: string;
  /** The flow's parameters and standard options as command-line arguments. */
  readonly args: readonly string[];
  /** What the step's environment must carry besides: secret parameters (`DAGWRIGHT_PARAM_*`), never on the command line. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The option that makes a flow script run one task, once, in its own process. */
export const runTaskFlag = '--run-task';

/** Environment names of the step protocol: written by executors, read by `readStepRequest`. */
export const StepEnv = {
  runId: 'DAGWRIGHT_RUN_ID',
  taskId: 'DAGWRIGHT_TASK_ID',
  attempt: 'DAGWRIGHT_ATTEMPT',
} as const;

/** Where and how the step's node starts the flow script. */
export interface StepRuntime {
  /** The flow script as the step's machine sees it; default `invocation.entry`. */
  readonly entry?: string;
  /** A module for `node -r` (the compiled-TypeScript hook). */
  readonly preload?: string;
}

/** A step's command (an argument array, never a shell string) and the environment it needs. */
export interface StepInvocation {
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** The one builder of a TypeScript step's command: `node [-r hook] <flow> <args...> --run-task <id>`. */
export function stepInvocation(invocation: FlowInvocation, taskId: string, runtime: StepRuntime = {}): StepInvocation {
  const preload = runtime.preload === undefined ? [] : ['-r', runtime.preload];
  return {
    command: ['node', ...preload, runtime.entry ?? invocation.entry, ...invocation.args, runTaskFlag, taskId],
    env: { ...invocation.env },
  };
}

/** The ids of one attempt, as the step's environment carries them. */
export function stepIdentity(runId: string, taskId: string, attempt: number): Record<string, string> {
  return { [StepEnv.runId]: runId, [StepEnv.taskId]: taskId, [StepEnv.attempt]: String(attempt) };
}

/** What a `--run-task` process was asked to do. */
export interface StepRequest {
  readonly taskId: string;
  /** The driving run's id; undefined when started by hand. */
  readonly runId: string | undefined;
  readonly attempt: number;
}

/**
 * The one reader of the protocol, in the step's process: the task from
 * `--run-task`, the run and attempt from the environment. Throws a
 * `UsageError` when the environment names another task than the command line
 * (a step started with a stale environment).
 */
export function readStepRequest(taskId: string, env: NodeJS.ProcessEnv = process.env): StepRequest {
  const named = env[StepEnv.taskId];
  if (named !== undefined && named !== '' && named !== taskId) {
    throw new UsageError(`${runTaskFlag} ${taskId}: the environment's ${StepEnv.taskId} names another task, ${named}; start the step with one of them.`);
  }
  const attempt = Number(env[StepEnv.attempt] ?? '1');
  return { taskId, runId: env[StepEnv.runId] || undefined, attempt: Number.isSafeInteger(attempt) && attempt >= 1 ? attempt : 1 };
}
