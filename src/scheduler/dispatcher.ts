import { setMaxListeners } from 'node:events';
import { MissingExternalDataError } from '../errors';
import { checkErrorMessage, type Planner } from '../plan';
import { redactSecrets } from '../secrets';
import type { AnyTask } from '../task';
import { dependencyEvents, type JsonValue } from '../task-events';
import { type AttemptEnv, missingOutputs, runTaskTurn, type TurnResult } from './attempts';
import { Capacity } from './capacity';
import { ReadyQueue } from './ready-queue';
import { asError, type ExecuteOptions, type SchedulerEvent, type TaskRecord } from './types';

/**
 * Decides what runs when: a task is ready once everything it requires has
 * finished; ready tasks start by priority within the workers, pools and
 * family limits; a failure blocks only what depends on it; dynamic
 * requirements join the plan while it runs. What happens within one task's
 * turn (retries, timeouts, verification) is attempts.ts's business.
 */
class Dispatcher {
  private readonly graph;
  private readonly pending = new Set<string>();
  private readonly order: string[] = [];
  private readonly waitingOn = new Map<string, number>();
  private readonly failedDeps = new Map<string, string[]>();
  private readonly records = new Map<string, TaskRecord>();
  private readonly started = new Set<string>();
  private readonly queue = new ReadyQueue();
  private readonly capacity: Capacity;
  private readonly env: AttemptEnv;
  private settle!: () => void;
  private admitting = false;
  readonly done = new Promise<void>((resolve) => (this.settle = resolve));

  constructor(
    private readonly plan: Planner,
    private readonly options: ExecuteOptions,
  ) {
    this.graph = plan.graph;
    this.capacity = new Capacity(options.workers, options.pools, options.familyLimits);
    const { executor, runId, signal, tracking, results } = options;
    this.env = { executor, runId, signal, tracking, results, emit: (event) => this.emit(event), forced: (id) => plan.isForced(id) };
  }

  get size(): number {
    return this.pending.size;
  }

  /** Records in plan order (dynamic requirements after the tasks planned first). */
  results(): TaskRecord[] {
    return this.order.map((id) => this.records.get(id)!);
  }

  private emit(event: SchedulerEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (err) {
      this.options.logger.warn({ err }, 'an event listener threw; ignored');
    }
  }

  /** One of the scheduler's own dependency events (attempt 0). */
  dependencyEvent(name: string, taskId: string, payload: JsonValue): void {
    this.emit({ type: 'task:event', taskId, attempt: 0, name, payload });
  }

  /** Adds planned tasks: counts what each waits for, and queues those that wait for nothing. */
  admit(ids: readonly string[]): void {
    for (const id of ids) {
      if (this.pending.has(id)) continue;
      this.pending.add(id);
      this.order.push(id);
    }
    this.batch(() => {
      for (const id of ids) {
        const count = this.graph.dependencies(id).filter((dep) => this.pending.has(dep) && this.records.get(dep)?.status !== 'ran').length;
        this.waitingOn.set(id, count);
        if (count === 0) this.ready(id);
      }
    });
  }

  /** Queues every task `fn` makes ready first, then starts: priority decides among all of them. */
  private batch(fn: () => void): void {
    if (this.admitting) return fn();
    this.admitting = true;
    try {
      fn();
    } finally {
      this.admitting = false;
    }
    this.pump();
  }

  private finish(record: TaskRecord): void {
    if (this.records.has(record.id)) return;
    this.records.set(record.id, record);
    this.emit({ type: 'task:end', record });
    if (this.records.size === this.pending.size) this.settle();
  }

  private ready(id: string): void {
    const task = this.graph.task(id);
    if (this.options.signal.aborted) return this.finish({ id, family: task.family, status: 'cancelled', attempts: 0, durationMs: 0 });
    if (this.plan.missingExternal.has(id)) return void this.reportMissing(task);
    const impossible = this.capacity.impossible(task);
    if (impossible !== undefined) return this.failAtStart(task, impossible);
    this.queue.push(task, this.capacity.group(task));
    if (!this.admitting) this.pump();
  }

  /** Starts ready tasks while there is room. */
  private pump(): void {
    if (this.options.signal.aborted) return;
    for (let id = this.queue.pop((g) => this.capacity.canStart(g)); id !== undefined; id = this.queue.pop((g) => this.capacity.canStart(g))) {
      this.start(id);
    }
  }

  private start(id: string): void {
    const task = this.graph.task(id);
    const group = this.capacity.group(task);
    this.capacity.acquire(group);
    this.started.add(id);
    void this.turn(task).then(
      (result) => {
        this.capacity.release(group);
        this.ended(task, result);
        this.pump();
      },
      (err: unknown) => {
        // turn() catches everything; this is a bug guard, not a path.
        this.capacity.release(group);
        this.options.logger.error({ err, taskId: id }, 'scheduler error');
        this.ended(task, { record: { id, family: task.family, status: 'failed', attempts: 0, durationMs: 0, error: String(err) } });
        this.pump();
      },
    );
  }

  private async turn(task: AnyTask): Promise<TurnResult> {
    const logger = this.options.logger.child({ taskId: task.id });
    const checkError = this.plan.checkErrors.get(task.id);
    if (checkError !== undefined) {
      const error = redactSecrets(checkErrorMessage(checkError));
      logger.error({ err: checkError }, error);
      return { record: { id: task.id, family: task.family, status: 'failed', attempts: 0, durationMs: 0, error } };
    }
    const failed = this.failedDeps.get(task.id) ?? [];
    const requirements = this.graph
      .dependencies(task.id)
      .filter((dep) => !failed.includes(dep))
      .map((dep) => this.graph.task(dep));
    return runTaskTurn(task, requirements, failed, logger, this.env);
  }

  private ended(task: AnyTask, result: TurnResult): void {
    if ('suspended' in result) return void this.suspend(task, result.suspended);
    this.finish(result.record);
    if (result.record.status === 'ran') this.settleDependents(task.id, true);
    else if (result.record.status === 'failed') this.settleDependents(task.id, false);
  }

  private failAtStart(task: AnyTask, error: string): void {
    this.options.logger.error({ taskId: task.id }, error);
    this.finish({ id: task.id, family: task.family, status: 'failed', attempts: 0, durationMs: 0, error });
    this.settleDependents(task.id, false);
  }

  private async reportMissing(task: AnyTask): Promise<void> {
    const missing = await missingOutputs(task).catch(() => []);
    const error = new MissingExternalDataError(task.id, missing).message;
    this.options.logger.warn({ taskId: task.id, missing }, error);
    this.dependencyEvent(dependencyEvents.missing, task.id, { missing });
    this.finish({ id: task.id, family: task.family, status: 'missing', attempts: 0, durationMs: 0, error });
    this.settleDependents(task.id, false);
  }

  /** A requirement finished: dependents count down; after a failure, those that cannot run after one are blocked. */
  private settleDependents(id: string, ok: boolean): void {
    this.batch(() => this.countDown(id, ok));
  }

  private countDown(id: string, ok: boolean): void {
    const stack: [string, string][] = [[id, id]];
    while (stack.length > 0) {
      const [from, cause] = stack.pop()!;
      for (const dependent of this.graph.dependents(from)) {
        if (!this.pending.has(dependent) || this.records.has(dependent)) continue;
        if (!ok && !this.graph.task(dependent).runsAfterFailedRequirements) {
          this.options.logger.warn({ taskId: dependent, blockedBy: cause }, 'blocked by a failed requirement');
          this.finish({ id: dependent, family: this.graph.task(dependent).family, status: 'blocked', attempts: 0, durationMs: 0, blockedBy: cause });
          stack.push([dependent, cause]);
          continue;
        }
        if (!ok) this.failedDeps.set(dependent, [...(this.failedDeps.get(dependent) ?? []), from]);
        const left = this.waitingOn.get(dependent)! - 1;
        this.waitingOn.set(dependent, left);
        if (left === 0) this.ready(dependent);
      }
    }
  }

  /** Dynamic requirements: plan them, make the task wait for them, and start it again once they are done. */
  private async suspend(task: AnyTask, requested: readonly AnyTask[]): Promise<void> {
    this.started.delete(task.id); // waiting again: a cancellation now cancels it
    const logger = this.options.logger.child({ taskId: task.id });
    logger.info({ requires: requested.map((t) => t.id) }, 'waiting for dynamic requirements; worker slot released');
    for (const dep of requested) this.dependencyEvent(dependencyEvents.discovered, task.id, { dependency: dep.id });
    let fresh: string[];
    try {
      fresh = await this.plan.expand(requested);
      for (const req of requested) this.graph.addEdge(this.graph.add(req).id, task.id);
      this.graph.assertAcyclic();
    } catch (err) {
      for (const req of requested) this.graph.removeEdge(req.id, task.id);
      const error = redactSecrets(asError(err).message);
      return this.failAtStart(task, `${task.id}: dynamic requirements: ${error}`);
    }
    this.admit(fresh);
    const held = requested.map((t) => t.id);
    const failed = held.find((id) => ['failed', 'blocked', 'missing', 'cancelled'].includes(this.records.get(id)?.status ?? ''));
    if (failed !== undefined) {
      this.finish({ id: task.id, family: task.family, status: 'blocked', attempts: 0, durationMs: 0, blockedBy: failed });
      return this.settleDependents(task.id, false);
    }
    const waiting = held.filter((id) => this.pending.has(id) && this.records.get(id)?.status !== 'ran').length;
    this.waitingOn.set(task.id, waiting);
    if (waiting === 0) this.ready(task.id);
  }

  /** Queued and waiting tasks never start once the run is aborted; running ones end themselves. */
  cancelWaiting(): void {
    this.queue.clear();
    for (const id of this.pending) {
      if (!this.records.has(id) && !this.started.has(id)) {
        this.finish({ id, family: this.graph.task(id).family, status: 'cancelled', attempts: 0, durationMs: 0 });
      }
    }
  }

}

/**
 * Runs the plan: a task starts when everything it requires has finished, with
 * at most `workers` at a time (and within pools and family limits). A failure
 * blocks only the tasks that depend on it. After `signal` aborts no task
 * starts, and running ones are aborted.
 */
export async function executePlan(plan: Planner, options: ExecuteOptions): Promise<TaskRecord[]> {
  const dispatcher = new Dispatcher(plan, options);
  for (const id of plan.complete) dispatcher.dependencyEvent(dependencyEvents.present, id, null);
  if (plan.toRun.length === 0) return [];
  const { signal } = options;
  const onAbort = () => dispatcher.cancelWaiting();
  // Each running attempt listens to the run's signal; that many listeners are expected, not a leak.
  setMaxListeners(2 * options.workers + 10, signal);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    dispatcher.admit(plan.toRun);
    await dispatcher.done;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return dispatcher.results();
}
