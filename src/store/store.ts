import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors';
import type { DirectoryTarget } from '../targets/directory-target';
import type { FileTarget } from '../targets/file-target';
import type { FileSystem } from '../targets/file-system';
import { checkStore, directoryTarget, fileSystemFor, localPath, storePath, target, uriScheme } from '../targets/uri';

/**
 * Where a flow's outputs, run history and registry live: a local folder or a
 * URI of a registered scheme (`s3://bucket/prefix`). Parsed once from
 * `--store` and passed down, so no layer re-parses the string.
 */
export interface Store {
  /** An absolute folder, or the URI without trailing slashes: what flows get as `context.store`. */
  readonly uri: string;
  /** `file` for a folder, else the URI's scheme (`s3`). */
  readonly scheme: string;
  /** True for a folder on this machine's disk. */
  readonly local: boolean;
  /** The absolute folder when `local`. */
  readonly path: string | undefined;
  /** The file system holding the store (made on first use: S3's loads the AWS SDK). */
  readonly fs: FileSystem;
  /** Where `parts` (relative paths; `..` refused) are under the store, as its file system names them. */
  at(...parts: string[]): string;
  /** The file at `parts` under the store. */
  file(...parts: string[]): FileTarget;
  /** The directory target at `parts` under the store. */
  directory(...parts: string[]): DirectoryTarget;
  toString(): string;
}

class ParsedStore implements Store {
  private fileSystem: FileSystem | undefined;

  constructor(
    readonly uri: string,
    readonly scheme: string,
    readonly path: string | undefined,
  ) {}

  get local(): boolean {
    return this.path !== undefined;
  }

  get fs(): FileSystem {
    this.fileSystem ??= fileSystemFor(this.uri);
    return this.fileSystem;
  }

  at(...parts: string[]): string {
    return storePath(this.uri, ...parts);
  }

  file(...parts: string[]): FileTarget {
    return target(this.at(...parts));
  }

  directory(...parts: string[]): DirectoryTarget {
    return directoryTarget(this.at(...parts));
  }

  toString(): string {
    return this.uri;
  }
}

/**
 * Parses a `--store` value: a folder (relative to `cwd`, or a `file://` URI)
 * or a registered scheme's URI. Throws a `UsageError` (exit code 2) naming
 * the value: no bucket, an unknown scheme, or a local path that exists but is
 * not a folder.
 */
export function parseStore(text: string, cwd: string = process.cwd()): Store {
  checkStore(text);
  const scheme = uriScheme(text);
  if (scheme !== undefined) return new ParsedStore(text.replace(/\/+$/, ''), scheme, undefined);
  const path = resolve(cwd, localPath(text));
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    // A file further up the path: the run's store check names it (checkStoreUsable), before anything is written.
    if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
  }
  if (info !== undefined && !info.isDirectory()) {
    throw new UsageError(`--store ${path} is a file, not a folder; give a folder (it is made when missing) or s3://bucket/prefix.`);
  }
  return new ParsedStore(path, 'file', path);
}

export function isStore(value: unknown): value is Store {
  return value instanceof ParsedStore;
}

/** A `Store` as it is, a string parsed (for library callers that still pass one). */
export function toStore(store: Store | string): Store {
  return isStore(store) ? store : parseStore(store);
}
