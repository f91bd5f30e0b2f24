import type { Store } from '../store/store';
import type { FileSystem } from '../targets/file-system';

/** A folder inside a store, on the store's file system. */
export interface StoreFolder {
  readonly fs: FileSystem;
  readonly path: string;
}

/** `<store>/<name>` on the store's file system. */
export function storeFolder(store: Store, name: string): StoreFolder {
  return { fs: store.fs, path: store.at(name) };
}
