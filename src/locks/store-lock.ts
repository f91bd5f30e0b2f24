import type { Store } from '../store/store';
import { join } from 'node:path';
import { acquireLock, type LockOptions } from './file-lock';
import { lockDirForStore, safeName } from './state-dir';

export type StoreLockOptions = Pick<LockOptions, 'signal' | 'staleMs' | 'logger'>;

/**
 * Runs `fn` while holding the lock `name` of `store` (waiting while another
 * holder has it): for read-modify-write updates of files in a store, such as
 * a model registry's version numbers and aliases. The lock sits beside the
 * store's run locks (`<store>/.dagwright/locks`, or this machine's state
 * folder for an `s3://` store, which then excludes writers on this machine
 * only), is a lease like them (a killed holder's lock is taken over), and is
 * released whatever `fn` does.
 */
export async function withStoreLock<T>(store: Store | string, name: string, fn: () => Promise<T>, options: StoreLockOptions = {}): Promise<T> {
  const lock = await acquireLock(join(lockDirForStore(store), `store-${safeName(name, 120)}.lock`), {
    ...options,
    label: `an update of ${name}`,
    wait: true,
    pollMs: 50,
  });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
