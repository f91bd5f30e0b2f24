/**
 * A step in another process (a container) checks its run's locks before it
 * publishes: the attempt's locks travel in the step's environment (path,
 * token, lease), and the step refuses to publish once a lock file no longer
 * carries its token or its heartbeat is older than the lease, as when the run
 * that started the step was frozen, or killed and taken over. Lock folders a
 * step cannot see (an `s3://` store's locks on the driving machine, a Swarm
 * node) are not checked.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { LockLostError } from '../errors';

/** The step environment's variable: JSON `[{ path, token, leaseMs }]`. */
export const LOCK_LEASE_ENV = 'DAGWRIGHT_LOCK_LEASE';

/** What a step needs to check one lock of its run (a held lock's `lease`). */
export interface Lease {
  readonly path: string;
  readonly token: string;
  readonly leaseMs: number;
}

/** A lock the attempt holds, as far as its steps are concerned. */
interface LeasedLock {
  readonly lease: Lease;
}

const attemptLocks = new AsyncLocalStorage<readonly LeasedLock[]>();

/** Runs an attempt with `locks` as the ones its steps must check (see `leaseEnvironment`). */
export function runWithAttemptLocks<T>(locks: readonly LeasedLock[], fn: () => Promise<T>): Promise<T> {
  return attemptLocks.run(locks, fn);
}

/** What a step's environment carries about the current attempt's locks; nothing outside an attempt under locks. */
export function leaseEnvironment(): Record<string, string> {
  const locks = attemptLocks.getStore();
  if (!locks || locks.length === 0) return {};
  return { [LOCK_LEASE_ENV]: JSON.stringify(locks.map((l) => l.lease)) };
}

/**
 * The leases of the current attempt's locks: the attempt's own (in this
 * process) or, in a step's process, those its environment names. The run's
 * flow lock comes first when the run holds one.
 */
export function attemptLeases(env: NodeJS.ProcessEnv = process.env): readonly Lease[] {
  const locks = attemptLocks.getStore();
  if (locks) return locks.map((l) => l.lease);
  return leasesFromEnv(env) ?? [];
}

function leasesFromEnv(env: NodeJS.ProcessEnv): Lease[] | undefined {
  const text = env[LOCK_LEASE_ENV];
  if (!text) return undefined;
  try {
    return (JSON.parse(text) as Lease[]).filter((l) => typeof l.path === 'string' && typeof l.token === 'string' && typeof l.leaseMs === 'number');
  } catch {
    return undefined;
  }
}

function check(lease: Lease, now: number): void {
  if (!existsSync(dirname(lease.path))) return; // not visible here: the driving machine keeps it
  let text: string;
  let modifiedMs: number;
  try {
    text = readFileSync(lease.path, 'utf8');
    modifiedMs = statSync(lease.path).mtimeMs;
  } catch {
    throw new LockLostError(lease.path, 'its lock file is gone (the run that started this step released it or lost it)');
  }
  let token: unknown;
  try {
    token = (JSON.parse(text) as { token?: unknown }).token;
  } catch {
    token = undefined;
  }
  if (token !== lease.token) throw new LockLostError(lease.path, 'another run took it over');
  const silentMs = now - modifiedMs;
  if (silentMs > lease.leaseMs) {
    throw new LockLostError(lease.path, `the run that started this step has not refreshed it for ${Math.round(silentMs / 1000)} s (frozen or gone)`);
  }
}

/** In a step's process: a publish guard for the locks its environment names, or undefined when it names none. */
export function leaseGuardFromEnv(env: NodeJS.ProcessEnv = process.env): (() => void) | undefined {
  const leases = leasesFromEnv(env);
  if (!leases) return undefined;
  return () => {
    const now = Date.now();
    for (const lease of leases) check(lease, now);
  };
}
