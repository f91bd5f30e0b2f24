/**
 * Records in a store owned by a live run (a drift monitor's claim on a
 * retraining): the owner is the run's flow lock, named by its file and the
 * token of that acquisition. While the run lives, the file carries the token
 * and its heartbeat is fresh; once the run is gone (exited, killed, frozen
 * past the stale limit), whoever finds the record can take its work over.
 * A killed run on this host is seen at once (its pid is dead); elsewhere
 * when its heartbeat is older than the stale limit.
 */
import { existsSync } from 'node:fs';
import { dirname, basename } from 'node:path';
import { defaultStaleMs, readLock, staleReason } from './file-lock';
import { attemptLeases } from '../step/lease';

/** The run owning a record: its flow lock file and that acquisition's token. */
export interface RunOwner {
  readonly lock: string;
  readonly token: string;
}

/** The run of the current attempt as an owner (its flow lock); undefined outside a run that holds one (the bare `run()` API). */
export function currentRunOwner(): RunOwner | undefined {
  const flow = attemptLeases().find((lease) => basename(lease.path).startsWith('flow-'));
  return flow && { lock: flow.path, token: flow.token };
}

/**
 * Whether `owner` still holds its lock: 'alive', 'gone', or 'unknown' when
 * its lock folder is not visible here (an `s3://` store's locks live on the
 * machine that ran it).
 */
export async function runOwnerState(owner: RunOwner, staleMs = defaultStaleMs()): Promise<'alive' | 'gone' | 'unknown'> {
  if (!existsSync(dirname(owner.lock))) return 'unknown';
  const state = await readLock(owner.lock);
  if (!state || state.token !== owner.token || staleReason(state, staleMs) !== undefined) return 'gone';
  return 'alive';
}
