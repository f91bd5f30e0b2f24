import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileSystem, WriteBody } from './file-system';
import { localFileSystem } from './local-file-system';
import type { Target } from './target';

/** One file on some file system, with atomic write helpers. */
export class FileTarget implements Target {
  constructor(
    readonly fs: FileSystem,
    readonly path: string,
    readonly uri: string = path,
  ) {}

  exists(): Promise<boolean> {
    return this.fs.exists(this.path);
  }

  readBytes(): Promise<Buffer> {
    return this.fs.read(this.path);
  }

  async readText(): Promise<string> {
    return (await this.readBytes()).toString('utf8');
  }

  async readJson<T = unknown>(): Promise<T> {
    return JSON.parse(await this.readText()) as T;
  }

  readStream(): Promise<Readable> {
    return this.fs.readStream(this.path);
  }

  /** Publishes the body only if it was written completely (a failed stream publishes nothing). */
  write(body: WriteBody): Promise<void> {
    return this.fs.write(this.path, body);
  }

  /** Publishes `body` only if the target does not exist yet; false when it did (another writer won the race). */
  writeIfAbsent(body: string | Uint8Array): Promise<boolean> {
    return this.fs.writeIfAbsent(this.path, body);
  }

  writeText(text: string): Promise<void> {
    return this.write(text);
  }

  writeJson(value: unknown): Promise<void> {
    return this.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  writeBytes(bytes: Uint8Array): Promise<void> {
    return this.write(bytes);
  }

  remove(): Promise<void> {
    return this.fs.remove(this.path);
  }

  toString(): string {
    return this.uri;
  }
}

/** A file on local disk. Relative paths are resolved against the working directory. */
export class LocalTarget extends FileTarget {
  constructor(path: string) {
    const absolute = resolve(path);
    super(localFileSystem, absolute);
  }
}
