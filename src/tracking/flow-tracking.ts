import type { Store } from '../store/store';
import type { Logger } from 'pino';
import type { TaskGraph } from '../graph';
import { RunTracking } from './run-tracking';
import { writeRunGraph } from './run-graph';
import { StoreTracking } from './store-tracking';
import type { TaskLogSink } from './task-logs';
import type { Tracking } from '../task-tracking';

/** What a flow run keeps beside its record: the DAG, each attempt's tracking, the task logs. */
export interface FlowRunTracking {
  /** The `tracking` hook of `run()`. */
  readonly tracking: (taskId: string, attempt: number) => Tracking;
  /** Writes what is pending; call when the run ends, whatever happened. */
  finish(): Promise<void>;
}

/** Starts keeping a flow run's graph, tracking and logs in `store`. Never throws for storage trouble (logged). */
export async function startFlowRunTracking(store: Store, runId: string, graph: TaskGraph, logger: Logger, logs?: TaskLogSink): Promise<FlowRunTracking> {
  const run = new RunTracking(store, runId, logger);
  try {
    await writeRunGraph(store, runId, graph);
  } catch (err) {
    logger.warn({ err, runId }, 'could not write the run graph to the store; the run goes on');
  }
  return {
    tracking: (taskId, attempt) => run.forTask(taskId, attempt),
    finish: async () => {
      await run.flush();
      await logs?.finishRun(runId);
    },
  };
}

/** A step process (`--run-task`, inside a container) writes its own attempt's tracking from the store and run id. */
export function stepTracking(store: Store, runId: string, taskId: string, attempt: number, logger: Logger): StoreTracking {
  return new StoreTracking(store, runId, taskId, attempt, logger);
}
