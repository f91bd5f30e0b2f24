/**
 * Notices when a registry's aliases file changes, on any file system: by
 * polling the file's change stamp (a stat on local disk, one HEAD on S3 per
 * interval), and where the file is on this machine's disk also by a
 * file-system watch on its folder (faster; the poll stays behind it, as
 * watches miss events on some file systems and cannot watch a folder that
 * does not exist yet). It says only "something changed"; the server
 * resolves the alias itself.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { FileTarget } from '../../../src';

export interface AliasWatcher {
  stop(): void;
}

/** Watches `file`; `onChange` runs after each change seen. */
export function watchAliasFile(file: FileTarget, pollMs: number, onChange: () => void, logger?: Logger): AliasWatcher {
  let last: string | undefined | null = null; // null: not asked yet
  let stopped = false;
  let checking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    try {
      const now = await file.fs.stamp(file.path);
      if (last !== null && now !== last) onChange();
      last = now;
    } catch (err) {
      logger?.warn({ err, uri: file.uri }, `could not check ${file.uri} for a new version; trying again in ${pollMs} ms`);
    }
  };
  let again = false;
  // One check at a time; a change seen during a check gets a check of its own after it.
  const checkOnce = (): Promise<void> => {
    if (checking) {
      again = true;
      return checking;
    }
    checking = check().finally(() => {
      checking = undefined;
      if (again && !stopped) {
        again = false;
        void checkOnce();
      }
    });
    return checking;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void checkOnce().then(schedule), pollMs);
    timer.unref();
  };
  void checkOnce().then(schedule);
  const watcher = watchLocalFolder(file, () => void checkOnce());
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}

/** An OS watch on the file's folder when the file is on this machine's disk; undefined otherwise or when the folder is missing. */
function watchLocalFolder(file: FileTarget, check: () => void): FSWatcher | undefined {
  const path = file.fs.localPath(file.path);
  if (path === undefined) return undefined;
  try {
    const watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
      if (name === null || name === basename(path)) check();
    });
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined; // the folder does not exist yet: the poll finds the file when it appears
  }
}
