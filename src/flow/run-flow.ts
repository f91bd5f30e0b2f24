import { basename, resolve } from 'node:path';
import { readStepRequest } from '../step/invocation';
import { parseStore, type Store } from '../store/store';
import type { Logger } from 'pino';
import { CancelledError, DagwrightError, UsageError } from '../errors';
import { InProcessExecutor } from '../executors/in-process';
import { TaskGraph } from '../graph';
import { createLogger } from '../logger';
import { type ParamSpecs, redactParams } from '../params';
import type { TaskClass } from '../task';
import { type RunSummary, runTasks } from '../run';
import { newRunId } from '../run-id';
import { countStatuses, formatSummary } from '../summary';
import { helpText, parseFlowArgs, type ParsedArgs } from './cli-args';
import { encodeParamArgs } from './param-args';
import { planOutput } from './plan-output';
import { type PreparedFlowRun, prepareFlowRun } from './flow-plan';
import { findStepTask, runStepTask } from '../step/step-task';
import { stepProgress } from '../step/progress';
import { stepEmit } from '../step/events';
import type { TaskEventHandlers } from '../task-events';
import { storeResults } from '../task-results';
import { ExitCode } from '../step/exit-codes';
import { createExecutor, type FlowInvocation } from './executors';
import { asFlow, type FlowDefinition } from './flow';
import { startFlowRunTracking, stepTracking } from '../tracking/flow-tracking';
import { TaskLogSink } from '../tracking/task-logs';
import { guardedRun } from './guarded-run';
import { liveViewStream } from './live-view';
import { runWithPublishGuard } from '../cancellation';
import { leaseGuardFromEnv } from '../step/lease';
import { terminateWhenLauncherExits } from './launcher-exit';
import { terminateOnCancelRequest } from './cancel-request';
import { runOnSchedule } from './schedule';

export interface RunFlowOptions {
  /** Default: `process.argv.slice(2)`. */
  argv?: readonly string[];
  /** Exit the process with the exit code when done; default true. */
  exit?: boolean;
  /** Arguments a step's command puts before the flow's own, to reach this flow again (`dagwright run <module> <TaskClass>`). */
  stepArgs?: readonly string[];
  /** Subscribers to task events by name, as `run()`'s `on`: they run in the driving process, also for events sent from container steps. */
  on?: TaskEventHandlers;
}

/** Where a flow's outputs go, parsed once (local folders made absolute so containers see the same path); exit 2 when unusable. */
function storeOf(text: string): Store | number {
  try {
    return parseStore(text);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return ExitCode.usage;
  }
}

function printSummary(summary: RunSummary, logger: Logger): void {
  if (process.stderr.isTTY) {
    process.stderr.write(formatSummary(summary));
    return;
  }
  const notRan = summary.tasks.filter((t) => t.status !== 'ran' && t.status !== 'complete');
  const ran = summary.tasks.filter((t) => t.status === 'ran');
  logger.info(
    {
      ok: summary.ok,
      cancelled: summary.cancelled,
      durationMs: summary.durationMs,
      counts: countStatuses(summary),
      problems: notRan,
      ran: ran.slice(0, 1000),
    },
    'run summary',
  );
}

/** Installs SIGINT/SIGTERM handlers: the first cancels the run, a second exits at once. */
function cancelOnSignals(controller: AbortController, logger: Logger): { signalCode: () => number | undefined; dispose: () => void } {
  let received: NodeJS.Signals | undefined;
  const codes = { SIGINT: ExitCode.interrupted, SIGTERM: ExitCode.terminated } as const;
  const handler = (signal: 'SIGINT' | 'SIGTERM') => {
    if (received) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(codes[signal]);
    }
    received = signal;
    logger.warn({ signal }, 'cancelling: no new task starts, running tasks are aborted (send again to exit at once)');
    controller.abort(new CancelledError());
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signalCode: () => (received ? codes[received as 'SIGINT' | 'SIGTERM'] : undefined),
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** `--run-task`: this process is one step of a run driven elsewhere (a container). */
async function runOneTask(graph: TaskGraph, id: string, logger: Logger, controller: AbortController, store: Store): Promise<number> {
  const task = findStepTask(graph.roots, id);
  const request = readStepRequest(id);
  const runId = request.runId ?? newRunId();
  const attempt = request.attempt;
  const taskLogger = logger.child({ runId, taskId: id });
  const tracking = stepTracking(store, runId, id, attempt, taskLogger);
  try {
    const progress = stepProgress(taskLogger);
    const context = { runId, taskId: id, attempt, signal: controller.signal, logger: taskLogger, tracking, progress, emit: stepEmit(taskLogger, id), results: storeResults(store) };
    // The driving run's locks, when this step can see them: it publishes nothing once they are lost (see step/lease.ts).
    const leaseGuard = leaseGuardFromEnv();
    const inProcess = new InProcessExecutor();
    return await (leaseGuard ? runWithPublishGuard(leaseGuard, () => runStepTask(task, context, store.uri, inProcess)) : runStepTask(task, context, store.uri, inProcess));
  } finally {
    await tracking.flush();
  }
}

async function main(flow: FlowDefinition, argv: readonly string[], controller: AbortController, entry: RunFlowOptions): Promise<number> {
  const stepArgs = entry.stepArgs ?? [];
  const script = process.argv[1] ? resolve(process.argv[1]) : 'flow';
  let parsed: ParsedArgs;
  try {
    parsed = parseFlowArgs(flow, argv);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return ExitCode.usage;
  }
  const { params, options } = parsed;
  if (options.help) {
    process.stdout.write(helpText(flow, script));
    return ExitCode.ok;
  }
  const store = storeOf(options.store);
  if (typeof store === 'number') return store;
  // Task logs are kept with the run by the process that drives it, not by its steps.
  const taskLogs = options.runTask === undefined ? new TaskLogSink(store) : undefined;
  // A terminal shows each event as a line and, while a run goes on, its live status block (live-view.ts).
  const logger = createLogger({ level: options.logLevel, stream: liveViewStream(), ...(taskLogs ? { tee: taskLogs } : {}) });
  let graph: TaskGraph;
  try {
    const roots = flow.roots(params as never, { store: store.uri });
    // Lazy: only the roots; planning expands incomplete tasks (prepareFlowRun).
    graph = TaskGraph.fromRoots(Array.isArray(roots) ? roots : [roots]);
  } catch (err) {
    if (!(err instanceof DagwrightError)) throw err;
    logger.error({ err }, err.message);
    return ExitCode.usage;
  }

  if (options.runTask !== undefined) return runOneTask(graph, options.runTask, logger, controller, store);

  if (options.graph || options.dryRun) {
    process.stdout.write(await planOutput(graph.roots, options.graph ? 'graph' : 'dry-run', options.rerun));
    return ExitCode.ok;
  }

  const encoded = encodeParamArgs(flow.params, params);
  const invocation: FlowInvocation = {
    entry: script,
    args: [...stepArgs, ...encoded.args, '--store', store.uri, '--log-level', options.logLevel],
    env: encoded.env,
  };
  // One run: the flow lock (or exit 75), a history record, per-task locks around the executor.
  const flowName = flow.name ?? basename(script).replace(/\.[cm]?[jt]s$/, '');
  let prepared: PreparedFlowRun | undefined;
  const runOnce = (signal: AbortSignal): Promise<number> =>
    guardedRun(
      {
        flow: flowName,
        params: redactParams(flow.params, params),
        runName: options.runName,
        store,
        wait: options.wait,
        logger,
        signal,
        // Configuration checks (the plan: no cycle; the executor: an engine to reach) pass before a lock or history record is written.
        prepare: async () => (prepared = await prepareFlowRun(graph.roots, options.rerun, (planned) => createExecutor(options.executor, { logger, invocation, store, graph: planned }))),
        dispose: ({ executor }) => executor.close(),
        tasks: () => (prepared ? prepared.plan.graph.order().map((id) => prepared!.plan.graph.task(id)) : []),
      },
      async ({ runId, wrapExecutor, onEvent, prepared: { executor, plan }, signal: runSignal }) => {
        const kept = await startFlowRunTracking(store, runId, plan.graph, logger, taskLogs);
        const stopWatchingCancel = terminateOnCancelRequest(store, runId, (by) => logger.warn({ by }, 'cancel requested (web UI): stopping as on SIGTERM'));
        try {
          const limits = { pools: { ...flow.pools, ...options.pool }, familyLimits: { ...flow.familyLimits, ...options.familyLimit }, rerun: options.rerun, plan };
          const summary = await runTasks(graph.roots, { executor: wrapExecutor(executor), workers: options.workers, logger, signal: runSignal, runId, onEvent, on: entry.on, results: store, tracking: kept.tracking, ...limits });
          printSummary(summary, logger);
          return { summary };
        } finally {
          stopWatchingCancel();
          await kept.finish();
        }
      },
    );
  if (options.schedule !== undefined) return runOnSchedule(options.schedule, runOnce, { logger, signal: controller.signal });
  return runOnce(controller.signal);
}

/**
 * The entry point of a flow script: parses the command line (the flow's own
 * parameters and the standard options), runs the flow and exits with a
 * documented code. Pass a flow definition, or a task class whose parameters
 * become the flow's.
 */
export async function runFlow<S extends ParamSpecs>(flow: FlowDefinition<S> | TaskClass, options: RunFlowOptions = {}): Promise<number> {
  const controller = new AbortController();
  const signalLogger = createLogger({ level: 'warn', stream: liveViewStream() });
  const signals = cancelOnSignals(controller, signalLogger);
  // npx does not pass SIGTERM on: a flow it started stops when npx is gone.
  const stopWatchingLauncher = terminateWhenLauncherExits((pid) =>
    signalLogger.warn({ launcherPid: pid }, 'the process that started this flow (npx or npm) exited: stopping as on SIGTERM'),
  );
  let code: number;
  try {
    code = await main(asFlow(flow as FlowDefinition | TaskClass), options.argv ?? process.argv.slice(2), controller, options);
    code = signals.signalCode() ?? code;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    code = ExitCode.taskFailed;
  } finally {
    stopWatchingLauncher();
    signals.dispose();
  }
  if (options.exit ?? true) process.exit(code);
  return code;
}
