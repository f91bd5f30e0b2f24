/**
 * The simulated month under random kills (`flows/operate.ts --chaos`,
 * `bench/operate.ts --chaos`). The same days as the month in one process
 * (operate.ts), but every part is a process (operate-supervisor.ts) and, at
 * moments drawn from a seeded plan, SIGKILLed:
 *
 * - the model server, after the k-th answer of a slice of traffic; the
 *   supervisor starts it again on the same port, the clients retry what got
 *   no answer (operate-traffic.ts accounts for every image);
 * - a routine register or monitor run, some way into its expected time;
 *   cron's next tick runs it again with the same arguments;
 * - a monitor while its retraining runs (its retrain claim is open); the
 *   monitor run again takes the claim over and finishes the retraining.
 *
 * A run is killed at most `maxKillsPerRun` times (then left to finish), so
 * the month always ends. `runChaosMonth` first runs the same month without
 * kills, in this process, as the reference; then the month under kills in a
 * store of its own, and compares: champion decisions (version, holder,
 * promoted, in order) must be identical, no drift event may be left
 * 'deciding' nor a retrain claim unfinished, every prediction logged or
 * counted, and the loop must recover on the shifted source.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { readLock } from '../src/locks/file-lock';
import { mulberry32 } from '../tasks/data/seeded-random';
import type { ImageBatch } from '../tasks/drift/sources/image-batch';
import { type DriftEvent, lastRetrainClaim, type RetrainClaim } from '../tasks/drift/drift-events';
import { ModelRegistry } from '../tasks/registry/registry';
import { directoryAt, fileAt, listUnder } from '../tasks/store';
import { MODEL, type OperateParts, type Routine, routineArgs, type SentSlice, sleep } from './operate-parts';
import { killNow, startFlowProcess, SupervisedServer } from './operate-supervisor';
import { sendAndAccount } from './operate-traffic';

export type KilledPart = 'server' | 'register' | 'monitor' | 'retrain';

/** The chance that a part is killed: each server slice, each run's attempt, each retraining seen. */
export type KillRates = Record<KilledPart, number>;

/** A monitor attempt is aimed at its retraining (killed only if one runs) at the retrain rate, else at the run itself at the monitor rate. */
export const DEFAULT_KILL_RATES: KillRates = { server: 0.4, register: 0.4, monitor: 0.4, retrain: 0.5 };

export interface ChaosOptions {
  /** Seeds the kill plan (which parts, when). Default 1. */
  readonly seed?: number;
  readonly rates?: Partial<KillRates>;
  /** A run is killed at most this many times, then left to finish. Default 2. */
  readonly maxKillsPerRun?: number;
}

export interface Kill {
  readonly part: KilledPart;
  /** The run or slice killed, e.g. "drift-monitor #3 attempt 1" or "day 4 images 0..": */
  readonly what: string;
  readonly pid: number;
  /** Milliseconds after the process started (the server: after the slice started). */
  readonly afterMs: number;
}

/** Seeded draws keyed by what they decide, so one decision does not shift the others. */
export class KillPlan {
  readonly rates: KillRates;
  readonly maxKillsPerRun: number;

  constructor(private readonly options: ChaosOptions) {
    this.rates = { ...DEFAULT_KILL_RATES, ...options.rates };
    this.maxKillsPerRun = options.maxKillsPerRun ?? 2;
  }

  random(key: string): number {
    let hash = 0x811c9dc5;
    for (const c of `${this.options.seed ?? 1}:${key}`) hash = Math.imul(hash ^ c.charCodeAt(0), 0x01000193);
    return mulberry32(hash)();
  }

  kills(part: KilledPart, key: string): boolean {
    return this.random(`${part}:${key}`) < this.rates[part];
  }

  /** What to kill in this attempt of a routine run: the run, its retraining (a monitor's, if one runs), or nothing. */
  target(routine: 'register' | 'monitor', attempt: string): KilledPart | undefined {
    if (routine === 'monitor' && this.kills('retrain', attempt)) return 'retrain';
    return this.kills(routine, attempt) ? routine : undefined;
  }
}

/** Expected durations (ms) a kill moment is drawn within; updated from the runs that finished. */
const INITIAL_ESTIMATES = { 'mnist-register': 10_000, 'drift-monitor': 5_000, retrain: 15_000 };

/** The month's parts as killable processes (see the module comment); `kills` and the traffic accounting are read at the end. */
export class ChaosParts implements OperateParts {
  readonly kills: Kill[] = [];
  readonly traffic = { failed: 0, failedOnKill: 0, openChunk: 0, lost: 0 };
  private server: SupervisedServer | undefined;
  private readonly plan: KillPlan;
  private readonly runsSoFar: Record<string, number> = {};
  private readonly estimates = { ...INITIAL_ESTIMATES };

  constructor(
    private readonly store: string,
    private readonly logger: Logger,
    options: ChaosOptions,
  ) {
    this.plan = new KillPlan(options);
  }

  async runRoutine(routine: Routine, args: readonly string[]): Promise<void> {
    const run = (this.runsSoFar[routine.name] = (this.runsSoFar[routine.name] ?? 0) + 1);
    const argv = [...args, ...routineArgs(this.store, this.logger)];
    for (let attempt = 1; attempt <= this.plan.maxKillsPerRun + 5; attempt++) {
      const what = `${routine.name} #${run} attempt ${attempt}`;
      const end = await this.attempt(routine, argv, what, attempt <= this.plan.maxKillsPerRun);
      if (end.code === 0) return;
      if (end.killed) continue; // cron's next tick runs it again
      if (end.code === 75) {
        await sleep(500); // its lock still held: the next tick
        continue;
      }
      throw new Error(`${what} exited ${end.code ?? end.signal} (arguments ${argv.join(' ')}): ${end.stderr}`);
    }
    throw new Error(`${routine.name} #${run} did not finish in ${this.plan.maxKillsPerRun + 5} attempts`);
  }

  /** One process of the run, SIGKILLed if the plan says so: some way into its expected time, or (a monitor) some way into its retraining. */
  private async attempt(routine: Routine, argv: string[], what: string, killable: boolean) {
    const started = Date.now();
    const { child, done } = startFlowProcess(routine.script, argv);
    const part: KilledPart = routine.name === 'mnist-register' ? 'register' : 'monitor';
    const target = killable ? this.plan.target(part, what) : undefined;
    let killed: KilledPart | undefined;
    const kill = async () => {
      if (killed || !target || !(await killNow(child))) return;
      killed = target;
      this.kills.push({ part: target, what, pid: child.pid!, afterMs: Date.now() - started });
    };
    const timers: NodeJS.Timeout[] = [];
    if (target === part) timers.push(setTimeout(() => void kill(), (0.1 + 0.8 * this.plan.random(`${what}:at`)) * this.estimates[routine.name]));
    let retrainSeen: number | undefined;
    const onRetraining = () => {
      retrainSeen = Date.now();
      if (target === 'retrain') timers.push(setTimeout(() => void kill(), (0.05 + 0.7 * this.plan.random(`${what}:retrain-at`)) * this.estimates.retrain));
    };
    if (part === 'monitor') timers.push(setInterval(() => void this.watchRetraining(child, onRetraining), 100));
    const end = await done.finally(() => timers.forEach((t) => clearTimeout(t)));
    if (end.code === 0 && retrainSeen) this.estimates.retrain = Date.now() - retrainSeen;
    else if (end.code === 0) this.estimates[routine.name] = Date.now() - started;
    return { ...end, killed };
  }

  private watching = false;
  private retrainingOf: ChildProcess | undefined;

  /** Calls `onStart` once when `child` (a monitor) holds an open retrain claim: the claim's owner is its flow lock, held by its pid. */
  private async watchRetraining(child: ChildProcess, onStart: () => void): Promise<void> {
    if (this.watching || this.retrainingOf === child) return;
    this.watching = true;
    try {
      const { record } = await lastRetrainClaim(this.store, MODEL).catch(() => ({ record: undefined }));
      const holder = record?.owner && (await readLock(record.owner.lock).catch(() => undefined));
      if (record && record.finished === undefined && holder?.pid === child.pid && holder?.token === record.owner!.token && child.exitCode === null) {
        this.retrainingOf = child;
        onStart();
      }
    } finally {
      this.watching = false;
    }
  }

  private async started(): Promise<SupervisedServer> {
    this.server ??= await SupervisedServer.start(this.store, this.logger);
    return this.server;
  }

  async awaitVersion(version: number): Promise<void> {
    const server = await this.started();
    const deadline = Date.now() + 60_000;
    for (let served = await server.version(); served !== version; served = await server.version()) {
      if (Date.now() > deadline) throw new Error(`the server still serves version ${served} 60 s after champion moved to ${version}`);
      await sleep(100);
    }
  }

  /** The slice's traffic; the plan may SIGKILL the server after its k-th answer. */
  async sendSlice(day: number, offset: number, slice: ImageBatch): Promise<SentSlice> {
    const server = await this.started();
    const what = `day ${day} images ${offset}..${offset + slice.count - 1}`;
    const killAfter = this.plan.kills('server', what) ? 1 + Math.floor(this.plan.random(`${what}:after`) * Math.max(1, slice.count - 1)) : 0;
    const started = Date.now();
    let answers = 0;
    const onAnswer = () => {
      if (++answers !== killAfter) return;
      const pid = server.pid!;
      void server.kill().then((ended) => ended && this.kills.push({ part: 'server', what, pid, afterMs: Date.now() - started }));
    };
    const account = await sendAndAccount(this.store, server, day, offset, slice, onAnswer);
    await server.ready();
    for (const k of ['failed', 'failedOnKill', 'openChunk', 'lost'] as const) this.traffic[k] += account[k];
    return { requests: account.requests, failed: account.failed, logged: account.logged };
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  get serverCrashes(): number {
    return this.server?.crashes ?? 0;
  }
}

/** Drift events left 'deciding' and retrain claims never finished: work a dead run still owns. */
export async function stuckClaims(store: string): Promise<{ events: string[]; claims: string[] }> {
  const eventsDir = directoryAt(store, 'monitoring', MODEL, 'events');
  const claimsDir = directoryAt(store, 'monitoring', MODEL, 'retrain-claims');
  const events: string[] = [];
  for (const name of (await listUnder(eventsDir)).filter((n) => n.endsWith('.json')))
    if ((await fileAt(store, 'monitoring', MODEL, 'events', name).readJson<DriftEvent>()).action === 'deciding') events.push(name);
  const claims: string[] = [];
  for (const name of (await listUnder(claimsDir)).filter((n) => /^\d+$/.test(n)))
    if ((await fileAt(store, 'monitoring', MODEL, 'retrain-claims', name).readJson<RetrainClaim>()).finished === undefined) claims.push(name);
  return { events, claims };
}

/** Champion decisions as compared: which version, against which holder, promoted or not, in order. */
export async function championDecisions(store: string): Promise<string[]> {
  return (await new ModelRegistry(store, MODEL).aliasDecisions()).filter((d) => d.alias === 'champion').map((d) => `v${d.version} vs ${d.holder === null ? 'none' : `v${d.holder}`}: ${d.promoted ? 'promoted' : 'kept'}`);
}

/** Positions where the two decision lists differ (a missing or extra decision counts once). */
export function decisionMismatches(reference: readonly string[], chaos: readonly string[]): number {
  let n = Math.abs(reference.length - chaos.length);
  for (let i = 0; i < Math.min(reference.length, chaos.length); i++) if (reference[i] !== chaos[i]) n++;
  return n;
}
