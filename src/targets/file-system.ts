import type { Readable } from 'node:stream';

/** What a writer may hand to `FileSystem.write`. */
export type WriteBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array>;

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
  /** Removes a file or a directory with everything in it; absent is fine. */
  remove(path: string): Promise<void>;
  /** Joins a directory path and a relative name the way this file system does. */
  join(dir: string, name: string): string;
}
