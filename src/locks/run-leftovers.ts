import { readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Logger } from 'pino';
import type { AnyTask } from '../task';
import { DirectoryTarget } from '../targets/directory-target';
import { FileTarget } from '../targets/file-target';
import { LocalFileSystem } from '../targets/local-file-system';
import { sweepLeftovers } from '../targets/leftovers';
import { readLock, staleReason, defaultStaleMs } from './file-lock';
import { taskLockName } from './state-dir';

/** A lock file's private copy (`<lock>.<token>.tmp`, see createExclusive) lives milliseconds; one older than this was left by a killed taker. */
const lockTemporaryAgeMs = 60_000;

/** Removes lock temporaries killed takers left in `lockDir`; returns how many. */
async function sweepLockTemporaries(lockDir: string, now = Date.now()): Promise<number> {
  const names = await readdir(lockDir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names.filter((n) => /\.lock\.[0-9a-f]{16}\.tmp$/.test(n))) {
    const info = await stat(join(lockDir, name)).catch(() => undefined);
    if (info && now - info.mtimeMs > lockTemporaryAgeMs) {
      await rm(join(lockDir, name), { force: true });
      removed++;
    }
  }
  return removed;
}

/** A file or directory target's location: its file system and path (other targets have none). */
function located(target: unknown): { local: boolean; path: string } | undefined {
  if (!(target instanceof FileTarget) && !(target instanceof DirectoryTarget)) return undefined;
  return { local: target.fs instanceof LocalFileSystem, path: target.path };
}

/**
 * A task's outputs, or none when `output()` throws or returns something else:
 * planning already made that task fail with a message naming it, and the
 * sweep must not stop the other branches from running.
 */
function outputsOrNone(task: AnyTask): readonly unknown[] {
  try {
    return task.outputList();
  } catch {
    return [];
  }
}

/**
 * At the start of a run (its flow lock held): removes what dead writers
 * left in the store and beside the run's local outputs elsewhere, and aborts
 * unfinished S3 uploads to outputs of tasks whose lock nobody holds (every
 * write happens under its task's lock, so their writer is gone). Logs what
 * it removed; a failure is logged and the run goes on.
 */
export async function sweepRunLeftovers(store: string, lockDir: string, tasks: readonly AnyTask[], logger: Logger): Promise<void> {
  const folders = new Set<string>();
  const writerOf = new Map<string, string>();
  for (const task of tasks) {
    for (const output of outputsOrNone(task)) {
      const where = located(output);
      if (!where) continue;
      if (!where.local) writerOf.set(where.path, task.id);
      else if (relative(store, where.path).startsWith('..')) folders.add(dirname(where.path));
    }
  }
  const staleMs = defaultStaleMs();
  const writerGone = async (uri: string): Promise<boolean> => {
    // An object of a directory target is under its prefix: find the output it belongs to.
    let taskId: string | undefined;
    for (let at = uri; !taskId && at.includes('/', 's3://'.length); at = at.slice(0, at.lastIndexOf('/'))) taskId = writerOf.get(at);
    if (!taskId) return false;
    const holder = await readLock(join(lockDir, taskLockName(taskId)));
    return holder === undefined || staleReason(holder, staleMs) !== undefined;
  };
  try {
    const { removed, bytes } = await sweepLeftovers(store, { folders: [...folders], writerGone });
    const lockFiles = await sweepLockTemporaries(lockDir);
    if (lockFiles > 0) logger.debug({ lockDir, count: lockFiles }, `removed ${lockFiles} lock file(s) that killed lock takers left`);
    if (removed.length > 0) {
      logger.info({ removed: removed.slice(0, 20), count: removed.length, bytes }, `removed ${removed.length} leftover(s) of killed writers (${bytes} bytes)`);
    }
  } catch (err) {
    logger.warn({ err }, 'could not sweep leftovers of killed writers; the run goes on');
  }
}
