/**
 * Checks that a local `--store` can hold outputs before a run writes
 * anything (its lock, its history record): not a file, not under a file,
 * writable, not on a full disk. A remote store (S3) is checked by its first
 * request instead.
 */
import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreUnusableError } from '../errors';
import type { Store } from './store';

/** Less free space than this at the start of a run: the lock and history record would not fit. */
export const minimumFreeBytes = 1024 * 1024;

const otherDisk = 'or pass --store a folder on another disk.';

/** The nearest of `path` and its ancestors that exists, with what it is. */
async function nearestExisting(path: string): Promise<{ path: string; isDirectory: boolean }> {
  for (let current = path; ; current = dirname(current)) {
    try {
      return { path: current, isDirectory: (await stat(current)).isDirectory() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') continue; // a file further up: found on the way up
      if (code !== 'ENOENT' || dirname(current) === current) throw err;
    }
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}

/** Throws `StoreUnusableError` (exit code 2) when the store is a folder on this machine that cannot be written; a remote store passes. */
export async function checkStoreUsable({ path: store }: Store): Promise<void> {
  if (store === undefined) return;
  const found = await nearestExisting(store);
  if (!found.isDirectory) {
    const what = found.path === store ? 'is an existing file, not a folder' : `cannot be made: ${found.path} is a file, not a folder`;
    throw new StoreUnusableError(store, what, 'Pass a folder (it is made if missing) or s3://bucket/prefix.');
  }
  try {
    await access(found.path, constants.W_OK);
  } catch (err) {
    throw new StoreUnusableError(store, `${found.path} is not writable (${(err as NodeJS.ErrnoException).code})`, `Fix its permissions, ${otherDisk}`, { cause: err });
  }
  const disk = await statfs(found.path).catch(() => undefined);
  if (disk && disk.bavail * disk.bsize < minimumFreeBytes) {
    throw new StoreUnusableError(store, `its disk is full (${formatBytes(disk.bavail * disk.bsize)} free)`, `Free some space there, ${otherDisk}`);
  }
  // File systems with a fixed number of files (inodes) report how many are left; none means no new file.
  if (disk && disk.files > 0 && disk.ffree === 0) {
    throw new StoreUnusableError(store, 'its disk is full (no free inodes: no new file can be made)', `Remove some files there, ${otherDisk}`);
  }
}

/** The error for a write that failed on a full or read-only disk at the start of a run; undefined for other failures. */
export function storeWriteError({ uri: store }: Store, err: unknown): StoreUnusableError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StoreUnusableError(store, `its disk is full (${code} while writing the run's lock)`, `Free some space there, ${otherDisk}`, { cause: err });
  if (code === 'EROFS') return new StoreUnusableError(store, 'is on a read-only file system', `Pass --store a writable folder.`, { cause: err });
  return undefined;
}
