import { FileTarget } from './targets/file-target';
import type { AnyTask } from './task';

/** A folder (or S3 prefix) and the file system listing it. */
interface Folder {
  readonly target: FileTarget;
  readonly dir: string;
}

/** The folder of a file target, as its file system names it. */
function folderOf(target: FileTarget): string {
  return target.fs.parent(target.path);
}

function nameIn(dir: string, target: FileTarget): string {
  return target.fs.relative(dir, target.path);
}

/** The task's file outputs when its completeness is "every output exists" (no expiry) and every output is a file; else undefined. */
function listableOutputs(task: AnyTask): FileTarget[] | undefined {
  if (!task.completeByOutputs || task.cacheExpirationMs !== undefined) return undefined;
  let outputs;
  try {
    outputs = task.outputList();
  } catch {
    return undefined; // output() throws: the one-by-one check reports it
  }
  return outputs.length > 0 && outputs.every((t) => t instanceof FileTarget) ? (outputs as FileTarget[]) : undefined;
}

/** How many folder levels below a shared ancestor one listing of that ancestor may reach (`/%Y/%m/%d/` is 3). */
const ancestorLevels = 3;

/** The deepest folder holding all of `dirs`, when it is below the file system's (or bucket's) root and at most `ancestorLevels` above each; else undefined. */
function sharedAncestor(dirs: readonly string[]): string | undefined {
  const split = dirs.map((d) => d.split('/'));
  let depth = 0;
  while (split.every((parts) => parts.length > depth && parts[depth] === split[0][depth])) depth++;
  const rootDepth = dirs[0].includes('://') ? 4 : 2; // s3: ['s3:', '', bucket, key...]; local: ['', first...]
  if (depth <= rootDepth || split.some((parts) => parts.length - depth > ancestorLevels)) return undefined;
  return split[0].slice(0, depth).join('/');
}

async function listing(target: FileTarget, dir: string): Promise<string[]> {
  return target.fs.listDirectory(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
    throw err;
  });
}

/**
 * The file names in each folder, by `fs dir` key. Folders of one file system
 * under a shared ancestor (per-day folders such as `/%Y/%m-%d/`) are listed
 * once, from the ancestor: listings are recursive.
 */
async function listFolders(folders: ReadonlyMap<string, Folder>): Promise<Map<string, Set<string>>> {
  const byFs = new Map<string, [string, Folder][]>();
  for (const entry of folders) {
    const fsKey = entry[0].slice(0, entry[0].indexOf(' '));
    byFs.set(fsKey, [...(byFs.get(fsKey) ?? []), entry]);
  }
  const listings = new Map<string, Set<string>>();
  const listEach = (entries: [string, Folder][]) =>
    Promise.all(entries.map(async ([key, { target, dir }]) => listings.set(key, new Set(await listing(target, dir)))));
  await Promise.all(
    [...byFs.values()].map(async (entries) => {
      const ancestor = entries.length > 1 ? sharedAncestor(entries.map(([, f]) => f.dir)) : undefined;
      if (ancestor === undefined) return listEach(entries);
      const names = await listing(entries[0][1].target, ancestor);
      for (const [key, { dir }] of entries) {
        const prefix = `${dir.slice(ancestor.length + 1)}/`;
        listings.set(key, new Set(names.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length))));
      }
    }),
  );
  return listings;
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
  const listings = await listFolders(folders);
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
