/**
 * Where tasks keep their outputs: paths inside the flow's store (`--store`),
 * a local folder or a URI of a registered scheme. Every target the MNIST and
 * registry tasks use is made here, through dagwright's target factory, so
 * the tasks do not care which. A task's `store` parameter stays a string (it
 * serialises); code below the task takes the parsed `Store` where it has one.
 */
import { type DirectoryTarget, directoryTarget, type FileTarget, storePath, target } from '../src';
import { isStore, type Store } from '../src/public/store';

/** A store as a task parameter gives it (a string) or parsed once (`parseStore`). */
export type StoreLocation = Store | string;

/** A file at `parts` under `location`. */
export function fileAt(location: StoreLocation, ...parts: string[]): FileTarget {
  return isStore(location) ? location.file(...parts) : target(storePath(location, ...parts));
}

/** A directory target at `parts` under `location`. */
export function directoryAt(location: StoreLocation, ...parts: string[]): DirectoryTarget {
  return isStore(location) ? location.directory(...parts) : directoryTarget(storePath(location, ...parts));
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
