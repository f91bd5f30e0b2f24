/**
 * How old a task's outputs are, for result caching with expiry (Prefect's
 * `cache_expiration`): when each output was last written, as its file
 * system tells (`FileSystem.writtenAt`).
 */
import { DagwrightError } from './errors';
import { DirectoryTarget } from './targets/directory-target';
import { FileTarget } from './targets/file-target';
import type { Target } from './targets/target';

/** A task with `cacheExpirationMs` has an output whose age cannot be read. */
export class OutputAgeUnknownError extends DagwrightError {
  constructor(taskId: string, uri: string) {
    super(`${taskId}: cacheExpirationMs needs to know when its outputs were written, but ${uri} is no file or directory target (or its file system cannot say); drop cacheExpirationMs or write that output to a file or directory target.`);
  }
}

/** When `target` was last written, in ms since the epoch; undefined for a kind of target whose time cannot be read. */
async function writtenAt(target: Target): Promise<number | undefined> {
  if (!(target instanceof FileTarget || target instanceof DirectoryTarget)) return undefined;
  return target.fs.writtenAt(target.path);
}

/** True when every output (all of which exist) was written less than `maxAgeMs` ago. */
export async function outputsFresh(taskId: string, outputs: readonly Target[], maxAgeMs: number, now = Date.now()): Promise<boolean> {
  const times = await Promise.all(outputs.map(writtenAt));
  return times.every((at, i) => {
    if (at === undefined) throw new OutputAgeUnknownError(taskId, outputs[i].uri);
    return now - at < maxAgeMs;
  });
}
