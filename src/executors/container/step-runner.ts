import { abortion } from '../../cancellation';
import { CancelledError } from '../../errors';
import { ExitCode } from '../../step/exit-codes';
import { stepRequirements } from '../../step/requests';
import type { TaskContext } from '../../task';
import { ContainerTask } from './container-task';
import { ContainerExitError, ContainerOutOfMemoryError, ImageNotFoundError } from './errors';
import { StepLogSink } from './log-stream';
import { Reaper } from './orphans';
import { outOfMemoryVerdict } from './out-of-memory';
import { Redactor } from './redact';
import type { EngineStep, EngineStepSpec, StepAttempt, StepEngine, StepEnd } from './step-engine';

export interface StepRunnerOptions {
  /** The executor's session (its `ContainerOwner`): a reaper removes its steps if this process dies. */
  readonly session: string;
  /** Lines of a failed step's log quoted in its error. */
  readonly tailLines: number;
  /** The flow's store, where a step that exited with `ExitCode.stepNeedsRequirements` wrote its requests; none: no hand-back. */
  readonly store: string | undefined;
}

/**
 * The one skeleton of a container step, over any `StepEngine`: creates the
 * step, streams its output into the task's logger, ends it on the attempt's
 * abort, turns its end into the attempt's outcome (success, out of memory,
 * dynamic requirements handed back, the engine's exit error), and removes
 * it: at once after a failure, in the background after a success (the next
 * step need not wait for the engine; `close()` waits for those removals).
 */
export class ContainerStepRunner<Spec extends EngineStepSpec> {
  private readonly reaper: Reaper;
  private readonly live = new Set<EngineStep>();
  private readonly removals = new Set<Promise<void>>();

  constructor(
    private readonly engine: StepEngine<Spec>,
    private readonly options: StepRunnerOptions,
  ) {
    this.reaper = new Reaper(options.session);
  }

  /** One attempt; `secretEnv`: the environment whose secret values never reach a log line (default the spec's). */
  async run(task: StepAttempt<Spec>['task'], spec: Spec, ctx: TaskContext, secretEnv: Readonly<Record<string, string>> = spec.env): Promise<void> {
    this.reaper.ensureStarted();
    const redactor = new Redactor(secretEnv);
    const attempt: StepAttempt<Spec> = { task, spec, ctx, redactor, sink: new StepLogSink(ctx.logger, redactor, this.options.tailLines, ctx.progress, ctx.emit) };
    const aborted = abortion(ctx.signal);
    let step: EngineStep | undefined;
    let succeeded = false;
    try {
      step = await this.engine.create(attempt);
      this.live.add(step);
      // Cancelled while the engine created it: the finally removes it.
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new CancelledError(task.id);
      const running = step.run();
      running.catch(() => {}); // settles after an abort too, when nobody listens any more
      const end = await Promise.race([running, aborted.promise]);
      if (end.ok) {
        succeeded = true;
        return;
      }
      throw await this.failure(attempt, step, end);
    } catch (err) {
      if (!(err instanceof ContainerExitError) && !(err instanceof ImageNotFoundError) && !ctx.signal.aborted) {
        ctx.logger.debug({ err }, 'container step failed');
      }
      throw err;
    } finally {
      aborted.dispose();
      step?.stop();
      if (step) await this.remove(step, ctx, succeeded);
    }
  }

  /** Why a step that did not succeed failed its attempt: out of memory, requirements to run first, or what its engine says. */
  private async failure({ task, spec, ctx, sink }: StepAttempt<Spec>, step: EngineStep, end: StepEnd): Promise<Error> {
    if (end.code !== undefined && end.code !== 0) {
      const memory = await outOfMemoryVerdict(this.engine.client, end.containerId, end.code, spec.memoryMb);
      if (memory !== 'no') return new ContainerOutOfMemoryError(task.id, end.code, sink.tail(), spec.memoryMb, memory === 'certain');
      // A TypeScript step that called ctx.require() on incomplete tasks: the scheduler runs them, then this step again.
      if (end.code === ExitCode.stepNeedsRequirements && !(task instanceof ContainerTask) && this.options.store !== undefined) {
        return stepRequirements(this.options.store, ctx.runId, task, ctx.logger);
      }
    }
    return step.failure(end);
  }

  private async remove(step: EngineStep, ctx: TaskContext, inBackground: boolean): Promise<void> {
    const removal: Promise<void> = step.remove(ctx.logger).finally(() => {
      this.live.delete(step);
      this.removals.delete(removal);
    });
    if (inBackground) this.removals.add(removal);
    else await removal;
  }

  /** Waits for the removal of finished steps, and removes any still there (normally none). */
  async close(): Promise<void> {
    await Promise.all([...this.removals]);
    await Promise.all([...this.live].map((step) => step.remove()));
    this.live.clear();
    this.reaper.stop();
  }
}
