import { dirname, relative } from 'node:path';
import { FileTarget } from './targets/file-target';
import type { AnyTask } from './task';

/** A folder (or S3 prefix) and the file system listing it. */
interface Folder {
  readonly target: FileTarget;
  readonly dir: string;
}

/** The folder of a file target: its parent path, as its file system names it. */
function folderOf(target: FileTarget): string {
  if (target.path.includes('://')) return target.path.slice(0, target.path.lastIndexOf('/'));
  return dirname(target.path);
}

function nameIn(dir: string, target: FileTarget): string {
  return target.path.includes('://') ? target.path.slice(dir.length + 1) : relative(dir, target.path);
}

/**
 * Completeness of many tasks with one listing per folder (Luigi's bulk
 * completeness): a task whose outputs are all files and whose `complete()`
 * is the default is complete when each file is in its folder's listing;
 * other tasks are asked one by one. A missing folder lists as empty.
 */
export async function bulkComplete(tasks: readonly AnyTask[]): Promise<boolean[]> {
  const folders = new Map<string, Folder>();
  const listable = tasks.map((task) => {
    if (!task.completeByOutputs) return undefined;
    const outputs = task.outputList();
    if (outputs.length === 0 || !outputs.every((t) => t instanceof FileTarget)) return undefined;
    for (const t of outputs as FileTarget[]) {
      const dir = folderOf(t);
      if (!folders.has(`${t.fs.constructor.name} ${dir}`)) folders.set(`${t.fs.constructor.name} ${dir}`, { target: t, dir });
    }
    return outputs as FileTarget[];
  });
  const listings = new Map<string, Set<string>>();
  await Promise.all(
    [...folders].map(async ([key, { target, dir }]) => {
      const names = await target.fs.listDirectory(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
        throw err;
      });
      listings.set(key, new Set(names));
    }),
  );
  return Promise.all(
    tasks.map(async (task, i) => {
      const outputs = listable[i];
      if (!outputs) return task.complete();
      return outputs.every((t) => listings.get(`${t.fs.constructor.name} ${folderOf(t)}`)!.has(nameIn(folderOf(t), t)));
    }),
  );
}
