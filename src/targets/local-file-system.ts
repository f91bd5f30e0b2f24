import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { throwIfAttemptAborted } from '../cancellation';
import type { DirectoryWriter, FileSystem, WriteBody } from './file-system';

/**
 * A temporary path beside `path`: same directory (so rename is atomic), a
 * dot-name that says what it is, and a random part so writers never collide.
 */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.dagwright-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

async function writeBody(path: string, body: WriteBody): Promise<void> {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    await writeFile(path, body, { flag: 'wx' });
  } else {
    const source = body instanceof Readable ? body : Readable.from(body);
    await pipeline(source, createWriteStream(path, { flags: 'wx' }));
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Local disk. Writes go to a temporary sibling and are renamed into place
 * when complete; a crash leaves only a dot-file that no target reports as
 * existing. No fsync: this protects against failed and killed runs, not
 * against power loss.
 */
export class LocalFileSystem implements FileSystem {
  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  read(path: string): Promise<Buffer> {
    return readFile(path);
  }

  async readStream(path: string): Promise<Readable> {
    return createReadStream(path);
  }

  async write(path: string, body: WriteBody): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const temp = temporarySibling(path);
    try {
      await writeBody(temp, body);
      throwIfAttemptAborted();
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
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

  remove(path: string): Promise<void> {
    return rm(path, { recursive: true, force: true });
  }

  join(dir: string, name: string): string {
    const file = resolve(dir, name);
    if (relative(dir, file).startsWith('..')) throw new Error(`"${name}" escapes the directory ${dir}`);
    return file;
  }
}

export const localFileSystem = new LocalFileSystem();
