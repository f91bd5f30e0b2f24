import type { Readable } from 'node:stream';

/** What a writer may hand to `FileSystem.write`. */
export type WriteBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array>;

/** One name directly in a folder: a file, or a folder holding more. */
export interface FolderEntry {
  readonly name: string;
  readonly kind: 'file' | 'folder';
}

/** Writes the files of a directory target before it is published. */
export interface DirectoryWriter {
  write(name: string, body: WriteBody): Promise<void>;
}

/**
 * Storage behind file-like targets. Local disk and S3 are two file systems,
 * not two kinds of target. Every write is atomic: a reader sees the whole
 * file (or directory) or nothing.
 */
export interface FileSystem {
  exists(path: string): Promise<boolean>;
  read(path: string): Promise<Buffer>;
  readStream(path: string): Promise<Readable>;
  /** Publishes `body` at `path` only if the whole body was written. */
  write(path: string, body: WriteBody): Promise<void>;
  /** Publishes `body` at `path` only if nothing is there; false when something was (another writer won). */
  writeIfAbsent(path: string, body: string | Uint8Array): Promise<boolean>;
  /** True when a directory written by `writeDirectory` is published at `path`. */
  directoryExists(path: string): Promise<boolean>;
  /** Lets `fill` write files, then publishes them together at `path`, or not at all. */
  writeDirectory(path: string, fill: (dir: DirectoryWriter) => Promise<void>): Promise<void>;
  /** Names of the files in a published directory, relative to it. */
  listDirectory(path: string): Promise<string[]>;
  /**
   * What is directly in a folder, one level deep, sorted by name; none when
   * the folder does not exist. Unpublished writes (temporary siblings) are
   * not listed. Cost grows with the folder's own entries, never with what
   * its subfolders hold.
   */
  list(path: string): Promise<FolderEntry[]>;
  /**
   * A value that changes whenever the file at `path` is replaced (local disk:
   * modification time, size and inode; S3: the ETag); undefined when nothing
   * is there. Watchers poll it; it says nothing about the content itself.
   */
  stamp(path: string): Promise<string | undefined>;
  /** When the file, or the directory published by `writeDirectory`, at `path` was last written (ms since the epoch); undefined when nothing is there. */
  writtenAt(path: string): Promise<number | undefined>;
  /**
   * Where `path` is on this machine's disk, for what only a local folder
   * allows (a bind mount, an OS file watch); undefined on a remote file system.
   */
  localPath(path: string): string | undefined;
  /** Names of the environment variables a child process (a container, a service) needs to reach this file system as this process does. */
  environment(): readonly string[];
  /** Removes a file or a directory with everything in it; absent is fine. */
  remove(path: string): Promise<void>;
  /** Joins a directory path and a relative name the way this file system does; throws when `name` would leave `dir`. */
  join(dir: string, name: string): string;
  /** The folder holding `path`, as this file system names it. */
  parent(path: string): string;
  /** `path` relative to the folder `dir` (`a/b.json`); throws when `path` is not under `dir`. */
  relative(dir: string, path: string): string;
}
