import { CycleError, GraphTooLargeError, InvalidRequirementError, UsageError } from '../errors';
import type { Executor } from '../executor';
import type { TaskGraph } from '../graph';
import { type Planner, planRun } from '../plan';
import { rerunMatcher } from '../run';
import type { AnyTask } from '../task';

/** What a flow run prepares before it takes its lock: the plan, and the executor made for the planned graph. */
export interface PreparedFlowRun {
  readonly plan: Planner;
  readonly executor: Executor;
}

/**
 * Plans a flow's run lazily before any lock or record is written, so a broken
 * graph (a cycle, a requires() returning a non-task, an endless chain) is a
 * usage error (exit 2) that writes nothing; then makes the executor for the
 * planned tasks (Swarm checks their targets). The run uses this plan.
 */
export async function prepareFlowRun(
  roots: readonly AnyTask[],
  rerun: readonly string[],
  makeExecutor: (graph: TaskGraph) => Promise<Executor>,
): Promise<PreparedFlowRun> {
  let plan: Planner;
  try {
    plan = await planRun(roots, { concurrency: 64, rerun: rerunMatcher(rerun) });
  } catch (err) {
    if (err instanceof CycleError || err instanceof InvalidRequirementError || err instanceof GraphTooLargeError) {
      throw new UsageError(err.message, { cause: err });
    }
    throw err;
  }
  return { plan, executor: await makeExecutor(plan.graph) };
}
