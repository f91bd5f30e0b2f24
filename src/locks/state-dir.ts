import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ParamValue } from '../params';
import { type Store, toStore } from '../store/store';

/** A file-name-safe form of `key`: readable, short, and unique (a hash is added when anything was changed or cut). */
export function safeName(key: string, max = 100): string {
  const cleaned = key.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_');
  if (cleaned === key && key.length <= max) return key;
  return `${cleaned.slice(0, max)}-${createHash('sha256').update(key).digest('hex').slice(0, 10)}`;
}

/**
 * This machine's state folder for a store: locks (and anything else local to
 * a run) live here. A local store keeps it inside itself, `<store>/.dagwright`,
 * so every process using the store sees the same locks. An `s3://` store
 * cannot hold lock files: its state lives in `$DAGWRIGHT_STATE_DIR`, else
 * `$XDG_STATE_HOME/dagwright`, else `~/.local/state/dagwright`, in a folder
 * named after the store. Such locks exclude runs on this machine only.
 */
export function stateDirForStore(store: Store | string, env: NodeJS.ProcessEnv = process.env): string {
  const { path, uri } = toStore(store);
  if (path !== undefined) return join(path, '.dagwright');
  const base = env.DAGWRIGHT_STATE_DIR || (env.XDG_STATE_HOME ? join(env.XDG_STATE_HOME, 'dagwright') : join(homedir(), '.local', 'state', 'dagwright'));
  return join(base, 'stores', safeName(uri));
}

/** Where a store's lock files go. */
export function lockDirForStore(store: Store | string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDirForStore(store, env), 'locks');
}

/** The lock file name for a flow run: flow name and a hash of its parameters (in name order) and store. */
export function flowLockName(flow: string, params: Readonly<Record<string, ParamValue>>, store: Store | string): string {
  const uri = typeof store === 'string' ? store : store.uri;
  const sorted = Object.keys(params)
    .sort()
    .map((name) => [name, params[name]]);
  const hash = createHash('sha256').update(JSON.stringify({ flow, params: sorted, store: uri })).digest('hex').slice(0, 12);
  return `flow-${safeName(flow, 60)}-${hash}.lock`;
}

/** The lock file name for a task: its id (already unique per family, parameters and version). */
export function taskLockName(taskId: string): string {
  return `task-${safeName(taskId, 150)}.lock`;
}
