import { localFileSystem } from '../targets/local-file-system';
import type { FileSystem } from '../targets/file-system';
import { UsageError } from '../errors';

/** A store's file system and its root path on it. */
export interface StoreFiles {
  readonly fs: FileSystem;
  readonly root: string;
}

/**
 * The file system behind `--store`. The seam for object stores: when the S3
 * file system lands (src/targets/s3*), map `s3://` stores here (a
 * `target(uri)`-style factory) and run history works there unchanged.
 */
export function storeFiles(store: string): StoreFiles {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(store)) {
    throw new UsageError(`${store}: run history needs a file system for this kind of store, and this build has one only for local folders.`);
  }
  return { fs: localFileSystem, root: store };
}
