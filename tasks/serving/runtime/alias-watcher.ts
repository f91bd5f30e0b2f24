/**
 * Notices when a registry's aliases file changes: on a local store by a
 * file-system watch on its folder (with a stat poll behind it, as watches
 * miss events on some file systems and cannot watch a folder that does not
 * exist yet); on S3 by polling the object's ETag (one HEAD per interval).
 * It says only "something changed"; the server resolves the alias itself.
 */
import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { createS3Client } from '../../../src';

export interface AliasWatcher {
  stop(): void;
}

/** Watches the file at `location` (a local path or an s3:// URI); `onChange` runs after each change seen. */
export function watchAliasFile(location: string, pollMs: number, onChange: () => void, logger?: Logger): AliasWatcher {
  return location.startsWith('s3://') ? watchS3Object(location, pollMs, onChange, logger) : watchLocalFile(location, pollMs, onChange);
}

function watchLocalFile(path: string, pollMs: number, onChange: () => void): AliasWatcher {
  const stamp = () => {
    const s = statSync(path, { throwIfNoEntry: false });
    return s ? `${s.mtimeMs}:${s.size}:${s.ino}` : 'absent';
  };
  let last = stamp();
  const check = () => {
    const now = stamp();
    if (now !== last) {
      last = now;
      onChange();
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
      if (name === null || name === basename(path)) check();
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined; // the folder does not exist yet: the poll finds the file when it appears
  }
  const timer = setInterval(check, pollMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      watcher?.close();
    },
  };
}

function watchS3Object(uri: string, pollMs: number, onChange: () => void, logger?: Logger): AliasWatcher {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`cannot watch ${uri}: expected s3://bucket/key`);
  const [, bucket, key] = match;
  const client = createS3Client();
  let last: string | undefined | null = null; // null: not asked yet
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    let etag: string | undefined;
    try {
      const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
      etag = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) {
        logger?.warn({ err, uri }, `could not check ${uri} for a new version; trying again in ${pollMs} ms`);
        return schedule();
      }
    }
    if (last !== null && etag !== last) onChange();
    last = etag;
    schedule();
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void poll(), pollMs);
    timer.unref();
  };
  void poll();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      client.destroy();
    },
  };
}
