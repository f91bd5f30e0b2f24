import { dynamicRequire } from './dynamic-requirements';
import type { TaskContext } from './task';
import { noTracking } from './task-tracking';
import { checkedPayload } from './task-events';
import { memoryResults } from './task-results';

/** The fields a caller must give; the rest have defaults. */
export type TaskContextBase = Pick<TaskContext, 'runId' | 'taskId' | 'attempt' | 'signal' | 'logger'> & Partial<TaskContext>;

/**
 * A full `TaskContext` for running a task outside the scheduler (a test, a
 * benchmark, a step process): no tracking, progress and events dropped
 * (events still checked), results in memory, no failed requirements, and a `require` that
 * returns complete tasks' outputs and throws `RequirementsPending` for the
 * others.
 */
export function taskContext(base: TaskContextBase): TaskContext {
  return {
    tracking: noTracking,
    progress: () => {},
    emit: (name, payload) => void checkedPayload(base.taskId, name, payload),
    require: dynamicRequire(base.taskId).require,
    results: memoryResults(),
    failedRequirements: [],
    ...base,
  };
}
