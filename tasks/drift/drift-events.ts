/**
 * Who acts on a drifted window, and how often retraining starts, however
 * many monitors run at once:
 *
 *   <store>/monitoring/<model>/events/<window key>.json   one per drifted window. Created exclusively
 *                                                         FIRST (action 'deciding'); only its creator
 *                                                         then decides and rewrites it with the decision
 *   <store>/monitoring/<model>/retrain-claims/<n>         the n-th retraining, created exclusively by the
 *                                                         window owner that decided to retrain
 *
 * The event comes before the claim so that a window's owner is settled
 * before anything is claimed: claiming first lets a monitor win the claim
 * and then lose the event to one that decided "cooldown", and nobody
 * retrains. The owner is a monitor task *in one run* (task id and run id):
 * two processes running the same monitor task have the same task id, and
 * only the run id tells the other one's event from our own (made before a
 * suspension or a failed attempt, which we resume).
 *
 * Exclusion: the decision runs under the store lock `monitoring/<model>`, so
 * monitors on one machine take turns on every store, including S3 servers
 * that ignore `If-None-Match` (s3rver); monitors on different machines are
 * kept apart by the exclusive creates (a hard link locally, `If-None-Match:
 * *` on S3, which AWS S3 honours since 2024). On a server that ignores the
 * header, monitors on two machines can both act; exclusion there would need
 * a protocol of its own (distinct intent files read back through a strongly
 * consistent listing, with leases for monitors that die), which this does
 * not attempt: run such monitors on one machine.
 *
 * Liveness: an event being decided and a retraining claim are owned by a
 * live run, the monitor's run as its flow lock names it (see
 * src/locks/run-owner.ts). A monitor that finds a window still 'deciding',
 * or the newest claim's retraining unfinished, while the owning run is gone
 * (killed, crashed, frozen past the lock's stale limit) takes the work over
 * at once, under the store lock so exactly one does: it decides the window,
 * or adopts the claim and runs that retraining itself (its tasks are
 * idempotent: what the dead run finished is not redone). A claim is marked
 * finished once its retraining is done. An owner whose lock folder is not
 * visible here (an `s3://` store's locks on another machine), and records
 * of monitors run without a flow lock, are never judged gone; a window left
 * 'deciding' by such a monitor is taken over after ABANDONED_DECIDING_MS.
 */
import { currentRunOwner, type RunOwner, runOwnerState, withStoreLock } from '../../src/public/store';
import { type TaskContext } from '../../src';
import { directoryAt, fileAt, listUnder } from '../store';
import type { PerformanceEvidence } from './performance-gate';

export type MonitorAction = 'none' | 'deciding' | 'retrain' | 'cooldown' | 'no-new-data' | 'performance-holds' | 'disabled' | 'already-handled';

/** What an event file holds. */
export interface DriftEvent {
  readonly time: string;
  readonly model: string;
  readonly version: number;
  readonly windowKey: string;
  readonly report: string;
  readonly drifted: string[];
  readonly action: MonitorAction;
  readonly monitorTaskId: string;
  /** The run the deciding monitor ran in (events written before it was recorded lack it). */
  readonly monitorRunId?: string;
  readonly retrainTaskId?: string;
  readonly labelBatches?: string;
  /** The version the retraining starts from (the champion when it was claimed); absent: new weights. */
  readonly startFrom?: number;
  readonly claim?: number;
  /** With a minimum accuracy drop set: the serving version's accuracy the decision was made on (performance-gate.ts). */
  readonly performance?: PerformanceEvidence;
  /** The run that made the event (its flow lock); judged while the event is 'deciding'. */
  readonly owner?: RunOwner;
}

/** What the window's owner decides. */
export type Decision = Pick<DriftEvent, 'action' | 'labelBatches' | 'startFrom' | 'claim' | 'retrainTaskId' | 'performance'>;

/** What a retrain-claims/<n> file holds. */
export interface RetrainClaim {
  readonly time: string;
  readonly monitorTaskId: string;
  readonly monitorRunId?: string;
  /** The run doing the retraining (its flow lock): while it lives, nobody else does it. */
  readonly owner?: RunOwner;
  /** The window whose drift started it, the labelled batches it trains on, and the version it starts from (the champion when claimed). */
  readonly windowKey?: string;
  readonly labelBatches?: string;
  readonly startFrom?: number;
  /** When its retraining was done; a claim without it and without a live owner is taken over. */
  readonly finished?: string;
  /** The monitor tasks whose runs died holding it, oldest first. */
  readonly takenOverFrom?: readonly string[];
}

type Owned = Pick<DriftEvent, 'monitorTaskId' | 'monitorRunId'>;

/** Whether `record` was written by this monitor task in this run (resumed after a suspension or a retry). */
export function isOwn(ctx: Pick<TaskContext, 'taskId' | 'runId'>, record: Owned): boolean {
  return record.monitorTaskId === ctx.taskId && (record.monitorRunId === undefined || record.monitorRunId === ctx.runId);
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Deciding reads a few files and takes seconds, under the lock; an event
 * still 'deciding' this long after it was begun belongs to a monitor that
 * died first (a crash, SIGKILL), and the window would otherwise never be acted on.
 */
export const ABANDONED_DECIDING_MS = 10 * 60_000;

function abandoned(event: DriftEvent): boolean {
  return event.action === 'deciding' && Date.now() - Date.parse(event.time) > ABANDONED_DECIDING_MS;
}

/** The record's owning run is known and gone. */
async function ownerGone(record: { readonly owner?: RunOwner }): Promise<boolean> {
  return record.owner !== undefined && (await runOwnerState(record.owner)) === 'gone';
}

/** A window someone else began: gone owner (or abandoned 'deciding'), or an unfinished retraining whose run is gone: ours to take over. */
async function ownerlessWork(store: string, event: DriftEvent): Promise<boolean> {
  if (event.action === 'deciding') return abandoned(event) || (await ownerGone(event));
  if (event.action !== 'retrain' || event.claim === undefined) return false;
  const claim = await fileAt(store, 'monitoring', event.model, 'retrain-claims', String(event.claim)).readJson<RetrainClaim>().catch(() => undefined);
  return claim !== undefined && claim.finished === undefined && (await ownerGone(claim));
}

/**
 * Records the event of a drifted window once; only its owner runs `decide`
 * (inside the store lock, so its reads of the claims are not stale), and
 * everyone else gets the owner's event as 'already-handled'.
 */
export function recordDriftEvent(
  ctx: TaskContext,
  store: string,
  base: Omit<DriftEvent, 'action' | 'monitorTaskId' | 'monitorRunId'>,
  decide: () => Promise<Decision>,
): Promise<DriftEvent> {
  return withStoreLock(
    store,
    `monitoring/${base.model}`,
    async () => {
      const file = fileAt(store, 'monitoring', base.model, 'events', `${base.windowKey}.json`);
      const owner = currentRunOwner();
      const provisional: DriftEvent = { ...base, action: 'deciding', monitorTaskId: ctx.taskId, monitorRunId: ctx.runId, ...(owner ? { owner } : {}) };
      let existing = (await file.exists()) ? await file.readJson<DriftEvent>() : undefined;
      if (!existing && !(await file.writeIfAbsent(json(provisional)))) existing = await file.readJson<DriftEvent>();
      if (existing && !isOwn(ctx, existing) && (await ownerlessWork(store, existing))) {
        ctx.logger.warn(
          { window: base.windowKey, monitor: existing.monitorTaskId, run: existing.monitorRunId, action: existing.action },
          `the monitor run that ${existing.action === 'deciding' ? 'began deciding this window' : `was retraining (claim ${existing.claim})`} is gone; taking its work over here`,
        );
        existing = undefined;
      }
      if (existing && !isOwn(ctx, existing)) return { ...existing, action: 'already-handled' };
      if (existing && existing.action !== 'deciding') return existing;
      const event: DriftEvent = { ...provisional, ...(await decide()) };
      await file.writeJson(event);
      return event;
    },
    { signal: ctx.signal, logger: ctx.logger },
  );
}

/** The newest retrain claim (n 0 and no record when there is none). */
export async function lastRetrainClaim(store: string, model: string): Promise<{ n: number; record?: RetrainClaim }> {
  const numbers = (await listUnder(directoryAt(store, 'monitoring', model, 'retrain-claims'))).filter((name) => /^\d+$/.test(name)).map(Number);
  const n = Math.max(0, ...numbers);
  return n === 0 ? { n } : { n, record: await fileAt(store, 'monitoring', model, 'retrain-claims', String(n)).readJson<RetrainClaim>() };
}

/** Creates retrain-claims/<n> for this monitor's run; false when another monitor holds it. */
export function takeRetrainClaim(ctx: TaskContext, store: string, model: string, n: number, work: Pick<RetrainClaim, 'windowKey' | 'labelBatches' | 'startFrom'>): Promise<boolean> {
  const owner = currentRunOwner();
  const record: RetrainClaim = { time: new Date().toISOString(), monitorTaskId: ctx.taskId, monitorRunId: ctx.runId, ...(owner ? { owner } : {}), ...work };
  return fileAt(store, 'monitoring', model, 'retrain-claims', String(n)).writeIfAbsent(`${JSON.stringify(record)}\n`);
}

/**
 * Takes over claim `n` when its retraining is unfinished and its run is
 * gone (call under the store lock, as the decision is); returns the claim as
 * now ours, or undefined when it is not ours to take. Its time is kept: the
 * cooldown counts from the first start.
 */
export async function adoptRetrainClaim(ctx: TaskContext, store: string, model: string, n: number, claim: RetrainClaim): Promise<RetrainClaim | undefined> {
  if (claim.finished !== undefined || !(await ownerGone(claim))) return undefined;
  const owner = currentRunOwner();
  const adopted: RetrainClaim = {
    ...claim,
    monitorTaskId: ctx.taskId,
    monitorRunId: ctx.runId,
    owner,
    takenOverFrom: [...(claim.takenOverFrom ?? []), `${claim.monitorTaskId}${claim.monitorRunId ? ` (run ${claim.monitorRunId})` : ''}`],
  };
  await fileAt(store, 'monitoring', model, 'retrain-claims', String(n)).writeJson(adopted);
  ctx.logger.warn({ claim: n, from: claim.monitorTaskId, run: claim.monitorRunId }, `took over retraining claim ${n}: the run that held it is gone`);
  return adopted;
}

/** Marks claim `n` finished once its retraining is done (only while this run holds it). */
export function finishRetrainClaim(ctx: TaskContext, store: string, model: string, n: number): Promise<void> {
  return withStoreLock(
    store,
    `monitoring/${model}`,
    async () => {
      const file = fileAt(store, 'monitoring', model, 'retrain-claims', String(n));
      const claim = await file.readJson<RetrainClaim>();
      if (isOwn(ctx, claim) && claim.finished === undefined) await file.writeJson({ ...claim, finished: new Date().toISOString() });
    },
    { signal: ctx.signal, logger: ctx.logger },
  );
}
