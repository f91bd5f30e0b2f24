/**
 * How old a task's outputs are, for result caching with expiry (Prefect's
 * `cache_expiration`): when each output was last written, on local disk
 * (its modification time) or S3 (the object's, or for a directory its
 * `_SUCCESS` marker's, LastModified).
 */
import { stat } from 'node:fs/promises';
import { DagwrightError } from './errors';
import { DirectoryTarget } from './targets/directory-target';
import { FileTarget } from './targets/file-target';
import { LocalFileSystem } from './targets/local-file-system';
import { S3FileSystem, SUCCESS_MARKER } from './targets/s3-file-system';
import { clientS3 } from './targets/s3-sdk';
import { parseS3ObjectUri } from './targets/s3-uri';
import type { Target } from './targets/target';

/** A task with `cacheExpirationMs` has an output whose age cannot be read. */
export class OutputAgeUnknownError extends DagwrightError {
  constructor(taskId: string, uri: string) {
    super(`${taskId}: cacheExpirationMs needs to know when its outputs were written, but ${uri} is neither on local disk nor on S3; drop cacheExpirationMs or write that output to a LocalTarget or S3Target.`);
  }
}

/** When `target` was last written, in ms since the epoch; undefined for a kind of target whose time cannot be read. */
async function writtenAt(target: Target): Promise<number | undefined> {
  if (!(target instanceof FileTarget || target instanceof DirectoryTarget)) return undefined;
  if (target.fs instanceof LocalFileSystem) return (await stat(target.path)).mtimeMs;
  if (!(target.fs instanceof S3FileSystem)) return undefined;
  const { bucket, key } = parseS3ObjectUri(target.path);
  const head = await target.fs.client.send(new clientS3.HeadObjectCommand({ Bucket: bucket, Key: target instanceof DirectoryTarget ? `${key}/${SUCCESS_MARKER}` : key }));
  return head.LastModified?.getTime();
}

/** True when every output (all of which exist) was written less than `maxAgeMs` ago. */
export async function outputsFresh(taskId: string, outputs: readonly Target[], maxAgeMs: number, now = Date.now()): Promise<boolean> {
  const times = await Promise.all(outputs.map(writtenAt));
  return times.every((at, i) => {
    if (at === undefined) throw new OutputAgeUnknownError(taskId, outputs[i].uri);
    return now - at < maxAgeMs;
  });
}
