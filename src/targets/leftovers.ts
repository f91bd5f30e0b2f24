/**
 * Sweeps what killed writers left behind: temporary siblings on local disk
 * (see temporary-names.ts) and unfinished multipart uploads on S3. Only
 * leftovers of dead writers go; a live writer's temporary file is never
 * touched. Runs at the start of a run, so repeated kills never grow a store.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultS3FileSystem, type S3FileSystem } from './s3-file-system';
import { formatS3Uri, isS3Uri, parseS3Uri } from './s3-uri';
import { temporaryWriter, writerIsGone } from './temporary-names';
import { fileSystemFor } from './uri';

export interface SweepOptions {
  /** Local folders outside the store that hold outputs (their files only, not their subfolders). */
  readonly folders?: readonly string[];
  /**
   * S3: is the writer of this object URI surely gone? (Every write happens
   * under its task's lock: a task whose lock nobody holds writes nothing.)
   * Uploads to such objects are aborted at once; others only past `uploadAgeMs`.
   */
  readonly writerGone?: (uri: string) => Promise<boolean>;
  /** S3 uploads older than this are aborted whoever started them; default 6 hours. */
  readonly uploadAgeMs?: number;
  /** Default: the shared S3 file system. */
  readonly s3?: S3FileSystem;
}

export interface SweepResult {
  /** Paths (or s3:// URIs of aborted uploads) removed. */
  readonly removed: string[];
  /** Bytes of the local files removed (temporary folders not counted). */
  readonly bytes: number;
}

/** Folders the sweep never enters: the store's lock and state folder. */
const skipped = new Set(['.dagwright']);
export const defaultUploadAgeMs = 6 * 60 * 60_000;

async function sweepFolder(folder: string, recursive: boolean, result: { removed: string[]; bytes: number }): Promise<void> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return;
    throw err;
  }
  for (const entry of entries) {
    const path = join(folder, entry.name);
    const writer = temporaryWriter(entry.name);
    if (writer) {
      const info = await lstat(path).catch(() => undefined);
      if (!info || !writerIsGone(writer, info.mtimeMs)) continue;
      await rm(path, { recursive: true, force: true });
      result.removed.push(path);
      if (info.isFile()) result.bytes += info.size;
    } else if (recursive && entry.isDirectory() && !skipped.has(entry.name)) {
      await sweepFolder(path, true, result);
    }
  }
}

async function sweepUploads(store: string, options: SweepOptions, result: { removed: string[] }): Promise<void> {
  const { bucket, key } = parseS3Uri(store);
  const fs = options.s3 ?? defaultS3FileSystem();
  const prefix = key === '' ? '' : `${key}/`;
  const ageMs = options.uploadAgeMs ?? defaultUploadAgeMs;
  const aborted = await fs.abortStaleUploads(bucket, prefix, ageMs, Date.now(), async (uploadKey) =>
    options.writerGone ? options.writerGone(formatS3Uri({ bucket, key: uploadKey })) : false,
  );
  result.removed.push(...aborted.map((k) => formatS3Uri({ bucket, key: k })));
}

/** Removes dead writers' leftovers in `store` (a folder, recursively, or an s3:// prefix) and in `options.folders`. */
export async function sweepLeftovers(store: string, options: SweepOptions = {}): Promise<SweepResult> {
  const result = { removed: [] as string[], bytes: 0 };
  if (isS3Uri(store)) await sweepUploads(store, options, result);
  // Another registered scheme's file system publishes atomically by its own means; nothing of ours to sweep there.
  else if (fileSystemFor(store).localPath(store) !== undefined) await sweepFolder(store, true, result);
  for (const folder of options.folders ?? []) await sweepFolder(folder, false, result);
  return result;
}
