import { createReadStream, createWriteStream, renameSync, statSync, writeFileSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { throwIfAttemptAborted } from '../cancellation';
import { InvalidUriError } from '../errors';
import type { DirectoryWriter, FileSystem, FolderEntry, WriteBody } from './file-system';
import { temporarySibling, temporaryWriter } from './temporary-names';

export { temporarySibling };

/**
 * Small in-memory bodies are written synchronously: for a few KB, a blocking
 * write is far cheaper than four round trips through libuv's thread pool,
 * and it keeps thousands of tiny tasks fast. Large bodies and streams stay
 * asynchronous.
 */
const syncWriteLimit = 256 * 1024;

async function writeBody(path: string, body: WriteBody): Promise<void> {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    if (body.length <= syncWriteLimit) writeFileSync(path, body, { flag: 'wx' });
    else await writeFile(path, body, { flag: 'wx' });
  } else {
    const source = body instanceof Readable ? body : Readable.from(body);
    await pipeline(source, createWriteStream(path, { flags: 'wx' }));
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/**
 * Local disk. Writes go to a temporary sibling and are renamed into place
 * when complete; a crash leaves only a dot-file that no target reports as
 * existing. No fsync: this protects against failed and killed runs, not
 * against power loss.
 */
export class LocalFileSystem implements FileSystem {
  // A stat on local disk takes microseconds; done synchronously it skips a
  // round trip through the thread pool, which dominates checks of many small targets.
  async exists(path: string): Promise<boolean> {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  }

  read(path: string): Promise<Buffer> {
    return readFile(path);
  }

  async readStream(path: string): Promise<Readable> {
    return createReadStream(path);
  }

  /** Folders this process already made: most writes then skip the mkdir. */
  private readonly madeFolders = new Set<string>();

  private async ensureFolder(folder: string): Promise<void> {
    if (this.madeFolders.has(folder)) return;
    await mkdir(folder, { recursive: true });
    this.madeFolders.add(folder);
  }

  async write(path: string, body: WriteBody): Promise<void> {
    await this.ensureFolder(dirname(path));
    const temp = temporarySibling(path);
    try {
      try {
        await writeBody(temp, body);
      } catch (err) {
        // The folder was removed since we made it: make it again, once.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.madeFolders.delete(dirname(path));
        await this.ensureFolder(dirname(path));
        await writeBody(temp, body);
      }
      throwIfAttemptAborted();
      renameSync(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /**
   * Publishes `body` at `path` only if nothing is there yet: written to a
   * temporary sibling, then hard-linked into place (which fails if the path
   * exists), so two writers racing for one path never both win.
   */
  async writeIfAbsent(path: string, body: string | Uint8Array): Promise<boolean> {
    await this.ensureFolder(dirname(path));
    const temp = temporarySibling(path);
    try {
      await writeFile(temp, body, { flag: 'wx' });
      throwIfAttemptAborted();
      await link(temp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(temp, { force: true });
    }
  }

  directoryExists(path: string): Promise<boolean> {
    return isDirectory(path);
  }

  async writeDirectory(path: string, fill: (dir: DirectoryWriter) => Promise<void>): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const temp = temporarySibling(path);
    await mkdir(temp);
    try {
      await fill({
        write: async (name, body) => {
          const file = this.join(temp, name);
          await mkdir(dirname(file), { recursive: true });
          await writeBody(file, body);
        },
      });
      throwIfAttemptAborted();
      await this.publishDirectory(temp, path);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  /** rename() cannot replace a non-empty directory: move the old one aside first. */
  private async publishDirectory(temp: string, path: string): Promise<void> {
    try {
      await rename(temp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      const old = temporarySibling(path);
      await rename(path, old);
      await rename(temp, path);
      await rm(old, { recursive: true, force: true });
    }
  }

  async listDirectory(path: string): Promise<string[]> {
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => relative(path, join(e.parentPath, e.name)))
      .sort();
  }

  async list(path: string): Promise<FolderEntry[]> {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw err;
    }
    const listed: FolderEntry[] = [];
    for (const entry of entries) {
      if (temporaryWriter(entry.name) !== undefined) continue; // an unpublished write
      const info = entry.isSymbolicLink() ? statSync(join(path, entry.name), { throwIfNoEntry: false }) : entry;
      if (info?.isDirectory()) listed.push({ name: entry.name, kind: 'folder' });
      else if (info?.isFile()) listed.push({ name: entry.name, kind: 'file' });
    }
    return listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async stamp(path: string): Promise<string | undefined> {
    const info = statSync(path, { throwIfNoEntry: false });
    return info ? `${info.mtimeMs}:${info.size}:${info.ino}` : undefined;
  }

  async writtenAt(path: string): Promise<number | undefined> {
    return statSync(path, { throwIfNoEntry: false })?.mtimeMs;
  }

  localPath(path: string): string {
    return resolve(path);
  }

  environment(): readonly string[] {
    return [];
  }

  remove(path: string): Promise<void> {
    return rm(path, { recursive: true, force: true });
  }

  join(dir: string, name: string): string {
    const file = resolve(dir, name);
    if (relative(dir, file).startsWith('..')) throw new InvalidUriError(`${dir}/${name}`, `"${name}" escapes the directory ${dir}.`);
    return file;
  }

  parent(path: string): string {
    return dirname(resolve(path));
  }

  relative(dir: string, path: string): string {
    const name = relative(resolve(dir), resolve(path));
    if (name === '' || name.startsWith('..') || isAbsolute(name)) throw new InvalidUriError(path, `is not inside the folder ${dir}.`);
    return name;
  }
}

export const localFileSystem = new LocalFileSystem();
