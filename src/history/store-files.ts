import type { FileSystem } from '../targets/file-system';
import { storePath, target } from '../targets/uri';

/** A folder inside a store, on the store's file system. */
export interface StoreFolder {
  readonly fs: FileSystem;
  readonly path: string;
}

/**
 * `<store>/<name>` on the store's file system: local disk for a folder, the
 * shared S3 file system for `s3://bucket/prefix` (see `target()`).
 */
export function storeFolder(store: string, name: string): StoreFolder {
  const t = target(storePath(store, name));
  return { fs: t.fs, path: t.path };
}
