import type { Logger } from 'pino';
import { UsageError } from '../errors';
import type { Executor } from '../executor';
import { InProcessExecutor } from '../executors/in-process';
import type { ExecutorName } from './cli-args';

/** How to start this flow again for a single task, in another process or container. */
export interface FlowInvocation {
  /** Absolute path of the flow script. */
  readonly entry: string;
  /** The flow's parameters and standard options as command-line arguments. */
  readonly args: readonly string[];
}

export interface ExecutorSetup {
  readonly logger: Logger;
  readonly invocation: FlowInvocation;
  readonly store: string;
}

/** Makes the executor `--executor` names. */
export async function createExecutor(name: ExecutorName, setup: ExecutorSetup): Promise<Executor> {
  switch (name) {
    case 'auto':
    case 'inprocess':
      return new InProcessExecutor();
    default:
      throw new UsageError(`--executor ${name} is not available in this version of dagwright; use --executor inprocess.`);
  }
}
