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

/** The task's file outputs when its completeness is "every output exists" and every output is a file; else undefined. */
function listableOutputs(task: AnyTask): FileTarget[] | undefined {
  if (!task.completeByOutputs) return undefined;
  let outputs;
  try {
    outputs = task.outputList();
  } catch {
    return undefined; // output() throws: the one-by-one check reports it
  }
  return outputs.length > 0 && outputs.every((t) => t instanceof FileTarget) ? (outputs as FileTarget[]) : undefined;
}

/**
 * What one listing per folder says about each task: true or false for tasks
 * whose outputs are all files and whose `complete()` is the default,
 * undefined for the others (they must be asked one by one).
 */
export async function listedCompleteness(tasks: readonly AnyTask[]): Promise<(boolean | undefined)[]> {
  const folders = new Map<string, Folder>();
  const listable = tasks.map((task) => {
    const outputs = listableOutputs(task);
    if (!outputs) return undefined;
    for (const t of outputs as FileTarget[]) {
      const dir = folderOf(t);
      if (!folders.has(`${t.fs.constructor.name} ${dir}`)) folders.set(`${t.fs.constructor.name} ${dir}`, { target: t, dir });
    }
    return outputs;
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
  return listable.map((outputs) => outputs?.every((t) => listings.get(`${t.fs.constructor.name} ${folderOf(t)}`)!.has(nameIn(folderOf(t), t))));
}

/**
 * Completeness of many tasks with one listing per folder (Luigi's bulk
 * completeness): a task whose outputs are all files and whose `complete()`
 * is the default is complete when each file is in its folder's listing;
 * other tasks are asked one by one. A missing folder lists as empty.
 */
export async function bulkComplete(tasks: readonly AnyTask[]): Promise<boolean[]> {
  const listed = await listedCompleteness(tasks);
  return Promise.all(tasks.map((task, i) => listed[i] ?? task.complete()));
}
