/**
 * Where tasks keep their outputs: paths inside the flow's store (`--store`),
 * a local folder or an `s3://bucket/prefix`. Every target the MNIST and
 * registry tasks use is made here, through dagwright's target factory, so
 * the tasks do not care which.
 */
import { type DirectoryTarget, directoryTarget, type FileTarget, storePath, target } from '../src';

/** A file at `parts` under `location` (a folder or an s3:// URI). */
export function fileAt(location: string, ...parts: string[]): FileTarget {
  return target(storePath(location, ...parts));
}

/** A directory target at `parts` under `location` (a folder or an s3:// URI). */
export function directoryAt(location: string, ...parts: string[]): DirectoryTarget {
  return directoryTarget(storePath(location, ...parts));
}

/** The files under a directory (published or not), relative to it; none when it does not exist. */
export async function listUnder(dir: DirectoryTarget): Promise<string[]> {
  try {
    return await dir.list();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
