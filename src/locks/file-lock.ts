import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CancelledError, LockedError, LockLostError } from '../errors';
import { processAlive } from '../process-alive';

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** When the holder took the lock (ISO time). */
  readonly startedAt: string;
  /** What holds it, for people: "flow register", "task Train_...". */
  readonly label?: string;
  /** Random per acquisition: tells this holder's lock from a later one with the same pid. */
  readonly token: string;
}

/** A lock file as read: its holder and its last heartbeat (the file's modification time). */
export interface LockState extends LockHolder {
  readonly heartbeatAt: string;
}

export interface LockOptions {
  /** Shown to whoever finds the lock taken. */
  label?: string;
  /** A lock whose heartbeat is older than this is stale, even if its holder's pid lives; default 60,000. */
  staleMs?: number;
  /** How often the holder refreshes its heartbeat; default 5,000. */
  heartbeatMs?: number;
  /** Wait for the holder instead of throwing `LockedError`; default false. */
  wait?: boolean;
  /** How often a waiter looks again; default 500. */
  pollMs?: number;
  /** Stops waiting: `acquireLock` rejects with `CancelledError`. */
  signal?: AbortSignal;
  /** Called once when the lock is taken and the caller is about to wait. */
  onBusy?: (holder: LockState) => void;
  /** Told about stale locks taken over and lost heartbeats. */
  logger?: Logger;
}

const thisHost = hostname();

/**
 * The stale limit unless a caller sets one: 60 s, or `DAGWRIGHT_LOCK_STALE_MS`
 * (at least 1,000) for machines whose runs must hand over sooner.
 */
export function defaultStaleMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.DAGWRIGHT_LOCK_STALE_MS);
  return Number.isFinite(value) && value >= 1_000 ? value : 60_000;
}

/** A heartbeat every 5 s, or more often when the stale limit is short: several beats per limit. */
function defaultHeartbeatMs(staleMs: number): number {
  return Math.min(5_000, Math.max(100, Math.floor(staleMs / 6)));
}
/** A takeover guard older than this was left by a killed taker: the work it guards takes milliseconds. */
const guardStaleMs = 10_000;
const held = new Set<HeldLock>();
let exitHookInstalled = false;

/** Best effort for `process.exit()` paths (a second Ctrl-C): remove our own lock files synchronously. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lock of held) {
      try {
        if ((JSON.parse(readFileSync(lock.path, 'utf8')) as LockHolder).token === lock.token) unlinkSync(lock.path);
      } catch {
        // gone or unreadable: nothing of ours to remove
      }
    }
  });
}


function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** The lock file's holder; undefined when there is no lock file. An unreadable file counts as held by "unknown". */
export async function readLock(path: string): Promise<LockState | undefined> {
  let text: string;
  let mtime: Date;
  let ino: number;
  try {
    [text, { mtime, ino }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    if (typeof holder.pid === 'number' && typeof holder.token === 'string') return { ...holder, heartbeatAt: mtime.toISOString() };
  } catch {
    // fall through: a file we cannot read is judged by its age alone
  }
  return { pid: 0, host: 'unknown', startedAt: mtime.toISOString(), token: `unreadable-${ino}-${mtime.getTime()}`, heartbeatAt: mtime.toISOString() };
}

/** Why `state` no longer holds its lock, or undefined while it does. */
export function staleReason(state: LockState, staleMs: number, now = Date.now()): string | undefined {
  if (state.host === thisHost && state.pid > 0 && !processAlive(state.pid)) return `holder pid ${state.pid} on this host is not running`;
  const age = now - Date.parse(state.heartbeatAt);
  if (age > staleMs) return `holder's heartbeat is ${Math.round(age / 1000)} s old (limit ${Math.round(staleMs / 1000)} s)`;
  return undefined;
}

/**
 * Creates `path` holding `holder` only if it does not exist. The content is
 * written to a private file first and hard-linked into place, so a reader
 * never sees a half-written lock. File systems without hard links fall back
 * to an exclusive create (`wx`).
 */
async function createExclusive(path: string, holder: LockHolder): Promise<boolean> {
  const text = JSON.stringify(holder);
  const temp = `${path}.${holder.token}.tmp`;
  await writeFile(temp, text);
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code(err) ?? '')) throw err;
  } finally {
    await rm(temp, { force: true });
  }
  try {
    await writeFile(path, text, { flag: 'wx' });
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Replaces the stale lock `stale` with ours. Takers of the same stale lock
 * first create a guard named after its token: only one can, and it removes
 * the lock only if the file still carries that token, so two takers never
 * both win and a fresh lock is never removed.
 */
async function takeOver(path: string, stale: LockState, me: LockHolder): Promise<boolean> {
  const guard = `${path}.takeover-${stale.token}`;
  if (!(await createExclusive(guard, me))) {
    const guardStat = await stat(guard).catch(() => undefined);
    if (guardStat && Date.now() - guardStat.mtimeMs > guardStaleMs) await rm(guard, { force: true });
    return false;
  }
  try {
    const current = await readLock(path);
    if (current?.token !== stale.token) return false;
    await rm(path, { force: true });
    return await createExclusive(path, me);
  } finally {
    await rm(guard, { force: true });
  }
}

/** Told once when a held lock is lost, with why. */
export type LockLostListener = (error: LockLostError) => void;

/**
 * A lock this process holds. Its heartbeat runs until `release()`. The lock
 * is a lease: once this process has not refreshed it for `staleMs` (minus a
 * margin), others may take it over, so from then on it counts as lost even
 * if nobody has yet. A lost lock is never refreshed again.
 */
export class HeldLock {
  private timer: NodeJS.Timeout | undefined;
  private beat: Promise<void> = Promise.resolve();
  private lostBecause: LockLostError | undefined;
  private renewedAt = Date.now();
  private readonly listeners: LockLostListener[] = [];
  /** The lease ends this long before others may call the lock stale: clocks of one host, a read in flight. */
  private readonly leaseMs: number;

  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    heartbeatMs: number,
    private readonly logger?: Logger,
    staleMs = 60_000,
  ) {
    this.leaseMs = staleMs - Math.min(1_000, staleMs / 10);
    this.timer = setInterval(() => {
      this.beat = this.beat.then(() => this.heartbeat());
    }, heartbeatMs);
    this.timer.unref();
    held.add(this);
    installExitHook();
  }

  get token(): string {
    return this.holder.token;
  }

  /** What a step in another process needs to check this lock (see step/lease.ts). */
  get lease(): { readonly path: string; readonly token: string; readonly leaseMs: number } {
    return { path: this.path, token: this.token, leaseMs: this.leaseMs };
  }

  /** True once the lock is lost: its lease ran out (this process stalled) or another process took it over. */
  get compromised(): boolean {
    this.checkLease();
    return this.lostBecause !== undefined;
  }

  /** Calls `listener` once when the lock is lost (at once if it already is). */
  onLost(listener: LockLostListener): void {
    if (this.lostBecause) listener(this.lostBecause);
    else this.listeners.push(listener);
  }

  /** Throws `LockLostError` if the lock is lost. Synchronous and cheap: called right before each publish. */
  assertHeld(): void {
    this.checkLease();
    if (this.lostBecause) throw this.lostBecause;
  }

  /**
   * Like `assertHeld`, and reads the lock file to see that it still carries
   * our token: before each task start. A synchronous read of a file of a few
   * hundred bytes: microseconds, cheaper than a trip through the thread pool.
   */
  verify(): void {
    this.assertHeld();
    let holder: Partial<LockHolder> | undefined;
    try {
      holder = JSON.parse(readFileSync(this.path, 'utf8')) as Partial<LockHolder>;
    } catch {
      holder = undefined;
    }
    if (holder?.token !== this.token) this.lose(holder?.pid ? `pid ${holder.pid} on ${holder.host} took it over` : 'its lock file is gone or unreadable');
    this.assertHeld();
  }

  private checkLease(): void {
    if (this.lostBecause || !held.has(this)) return;
    const silentMs = Date.now() - this.renewedAt;
    if (silentMs > this.leaseMs) this.lose(`this process did not refresh it for ${Math.round(silentMs / 1000)} s (stale after ${Math.round(this.leaseMs / 1000)} s)`);
  }

  private lose(reason: string): void {
    if (this.lostBecause) return;
    this.lostBecause = new LockLostError(this.path, reason);
    this.stopHeartbeat();
    this.logger?.error({ lock: this.path, reason }, `lost a lock: ${reason}; this run starts and publishes nothing more`);
    for (const listener of this.listeners.splice(0)) {
      try {
        listener(this.lostBecause);
      } catch {
        // a listener's failure must not keep others from hearing
      }
    }
  }

  private async heartbeat(): Promise<void> {
    this.checkLease();
    if (this.lostBecause) return;
    try {
      const current = await readLock(this.path);
      if (current?.token !== this.token) {
        this.lose(current ? `pid ${current.pid} on ${current.host} took it over (this process missed its heartbeats)` : 'its lock file is gone');
        return;
      }
      const now = new Date();
      await utimes(this.path, now, now);
      this.checkLease(); // a stall between the read and now: the refresh came too late to count
      if (!this.lostBecause) this.renewedAt = now.getTime();
    } catch (err) {
      this.logger?.warn({ err, lock: this.path }, 'could not refresh a lock heartbeat');
    }
  }

  private stopHeartbeat(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Removes the lock file if it is still ours. Safe to call more than once. */
  async release(): Promise<void> {
    if (!held.has(this)) return;
    this.checkLease();
    held.delete(this);
    this.stopHeartbeat();
    await this.beat;
    try {
      if ((await readLock(this.path))?.token === this.token) await rm(this.path, { force: true });
    } catch (err) {
      this.logger?.warn({ err, lock: this.path }, 'could not release a lock; it becomes stale when this process exits');
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * Takes the lock file at `path`. Free or stale (its holder's pid is dead on
 * this host, or its heartbeat is older than `staleMs`): taken. Held: throws
 * `LockedError` naming the holder, or with `wait` polls until it is free.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const staleMs = options.staleMs ?? defaultStaleMs();
  const pollMs = options.pollMs ?? 500;
  const token = randomBytes(8).toString('hex');
  let me!: LockHolder;
  await mkdir(dirname(path), { recursive: true });
  let toldBusy = false;
  for (;;) {
    if (options.signal?.aborted) throw new CancelledError();
    // The start time is when we get the lock, not when we began to wait.
    me = { pid: process.pid, host: thisHost, startedAt: new Date().toISOString(), ...(options.label === undefined ? {} : { label: options.label }), token };
    if (await createExclusive(path, me)) break;
    const current = await readLock(path);
    if (current === undefined) continue; // released between our create and read
    const reason = staleReason(current, staleMs);
    if (reason !== undefined) {
      options.logger?.warn({ lock: path, holder: current, reason }, 'taking over a stale lock');
      if (await takeOver(path, current, me)) break;
      await sleep(20 + Math.random() * 30);
      continue;
    }
    if (!options.wait) throw new LockedError(path, current);
    if (!toldBusy) {
      toldBusy = true;
      options.onBusy?.(current);
    }
    try {
      await sleep(pollMs * (0.75 + Math.random() * 0.5), undefined, { signal: options.signal });
    } catch {
      throw new CancelledError();
    }
  }
  return new HeldLock(path, me, options.heartbeatMs ?? defaultHeartbeatMs(staleMs), options.logger, staleMs);
}
