import { type FlowInvocation, stepInvocation, type StepInvocation, type StepRuntime } from '../../step/invocation';
import { stepTaskEnv } from '../../step/requests';
import type { AnyTask } from '../../task';
import { NoFlowInvocationError } from './errors';

/**
 * A TypeScript task's step: the flow script started again with
 * `--run-task <id>`, and the environment that lets it find its task at once
 * (secret parameters included). Throws `NoFlowInvocationError` when the
 * executor was not told how to start the flow.
 */
export function flowScriptStep(task: AnyTask, invocation: FlowInvocation | undefined, runtime: StepRuntime = {}): StepInvocation {
  if (invocation === undefined) throw new NoFlowInvocationError(task.id);
  const step = stepInvocation(invocation, task.id, runtime);
  return { command: step.command, env: { ...step.env, ...stepTaskEnv(task) } };
}
