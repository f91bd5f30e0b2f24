/**
 * Copying and moving targets, within one file system or across two (local
 * disk and S3, or two local file systems). The destination is always
 * written the atomic way its file system writes (a temporary sibling then a
 * rename, or an upload that appears when complete), so a reader never sees
 * part of it; a move removes the source only once the destination is whole.
 */
import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DagwrightError } from './errors';
import { DirectoryTarget } from './targets/directory-target';
import { FileTarget } from './targets/file-target';
import { LocalFileSystem } from './targets/local-file-system';

type Transferable = FileTarget | DirectoryTarget;

/** A copy or move that cannot be done as asked (nothing was written). */
export class TargetTransferError extends DagwrightError {}

async function checkTransfer(from: Transferable, to: Transferable, verb: string): Promise<void> {
  if ((from instanceof DirectoryTarget) !== (to instanceof DirectoryTarget)) {
    throw new TargetTransferError(`cannot ${verb} ${from.uri} to ${to.uri}: one is a directory target and the other a file target; ${verb} a directory to a directory and a file to a file.`);
  }
  if (from.uri === to.uri && from.fs === to.fs) throw new TargetTransferError(`cannot ${verb} ${from.uri} onto itself.`);
  if (!(await from.exists())) throw new TargetTransferError(`cannot ${verb} ${from.uri}: it does not exist (or, for a directory, was never published).`);
}

/** Writes what `from` holds at `to`, atomically, through streams (any two file systems). */
async function writeCopy(from: Transferable, to: Transferable): Promise<void> {
  if (from instanceof FileTarget) return (to as FileTarget).write(await from.readStream());
  const names = await from.list();
  await (to as DirectoryTarget).write(async (dir) => {
    for (const name of names) await dir.write(name, await from.file(name).readStream());
  });
}

/** Copies a file or directory target to another target of the same kind, on the same or another file system; `to` is replaced. */
export async function copyTarget(from: Transferable, to: Transferable): Promise<void> {
  await checkTransfer(from, to, 'copy');
  await writeCopy(from, to);
}

/**
 * Moves a file or directory target. On one local file system it is a rename
 * (atomic); across file systems (another disk, S3) it is a copy and then
 * the source's removal, so an interruption leaves both, never neither.
 */
export async function moveTarget(from: Transferable, to: Transferable): Promise<void> {
  await checkTransfer(from, to, 'move');
  if (from.fs instanceof LocalFileSystem && to.fs instanceof LocalFileSystem && from instanceof FileTarget) {
    await mkdir(dirname(to.path), { recursive: true });
    try {
      await rename(from.path, to.path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err; // another device: copy, then remove
    }
  }
  await writeCopy(from, to);
  await from.remove();
}
