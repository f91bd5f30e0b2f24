import { resolve } from 'node:path';
import type { DirectoryWriter, FileSystem } from './file-system';
import { FileTarget } from './file-target';
import { localFileSystem } from './local-file-system';
import type { Target } from './target';

/**
 * Several files published together (a model folder): they all appear at
 * once when the writer finishes, or none do.
 */
export class DirectoryTarget implements Target {
  constructor(
    readonly fs: FileSystem,
    readonly path: string,
    readonly uri: string = path,
  ) {}

  exists(): Promise<boolean> {
    return this.fs.directoryExists(this.path);
  }

  /** Runs `fill` to write the files, then publishes the directory as a whole. */
  write(fill: (dir: DirectoryWriter) => Promise<void>): Promise<void> {
    return this.fs.writeDirectory(this.path, fill);
  }

  /** A file inside the published directory, for reading. */
  file(name: string): FileTarget {
    return new FileTarget(this.fs, this.fs.join(this.path, name), `${this.uri}/${name}`);
  }

  list(): Promise<string[]> {
    return this.fs.listDirectory(this.path);
  }

  remove(): Promise<void> {
    return this.fs.remove(this.path);
  }

  toString(): string {
    return this.uri;
  }
}

/** A directory on local disk, published by one rename. */
export class LocalDirectoryTarget extends DirectoryTarget {
  constructor(path: string) {
    super(localFileSystem, resolve(path));
  }
}
