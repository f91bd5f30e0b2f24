import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidUriError, UsageError } from '../errors';
import { type DirectoryTarget, LocalDirectoryTarget } from './directory-target';
import { type FileTarget, LocalTarget } from './file-target';
import type { S3FileSystem } from './s3-file-system';
import { S3DirectoryTarget, S3Target } from './s3-target';
import { formatS3Uri, isS3Uri, parseS3Uri, relativeSegments } from './s3-uri';

export interface TargetOptions {
  /** The file system for `s3://` URIs; default: the shared one (`defaultS3FileSystem()`). */
  s3?: S3FileSystem;
}

const scheme = /^([a-z][a-z0-9+.-]*):\/\//i;

/** A local path from a path or a `file://` URI; throws for other schemes. */
function localPath(uri: string): string {
  const match = scheme.exec(uri);
  if (!match) return uri;
  if (match[1].toLowerCase() === 'file') return fileURLToPath(uri);
  throw new InvalidUriError(uri, `unsupported scheme "${match[1]}://"; expected a local path or s3://bucket/key.`);
}

/**
 * The file target for a URI: `s3://bucket/key` is an `S3Target`; a path
 * (relative to the working directory, or absolute) or a `file://` URI is a
 * `LocalTarget`.
 */
export function target(uri: `s3://${string}`, options?: TargetOptions): S3Target;
export function target(uri: string, options?: TargetOptions): FileTarget;
export function target(uri: string, options: TargetOptions = {}): FileTarget {
  return isS3Uri(uri) ? new S3Target(uri, options.s3) : new LocalTarget(localPath(uri));
}

/** The directory target for a URI: `S3DirectoryTarget` (published by `_SUCCESS`) or `LocalDirectoryTarget`. */
export function directoryTarget(uri: `s3://${string}`, options?: TargetOptions): S3DirectoryTarget;
export function directoryTarget(uri: string, options?: TargetOptions): DirectoryTarget;
export function directoryTarget(uri: string, options: TargetOptions = {}): DirectoryTarget {
  return isS3Uri(uri) ? new S3DirectoryTarget(uri, options.s3) : new LocalDirectoryTarget(localPath(uri));
}

/**
 * A location under a store (`--store`): `storePath('s3://b/runs', 'models/v1')`
 * is `s3://b/runs/models/v1`, `storePath('/data', 'models', 'v1')` is
 * `/data/models/v1`. Parts are relative paths; `..` and absolute parts are
 * refused, so nothing lands outside the store.
 */
export function storePath(store: string, ...parts: string[]): string {
  const segments = parts.flatMap((part) => relativeSegments(store, part));
  if (isS3Uri(store)) {
    const { bucket, key } = parseS3Uri(store);
    return formatS3Uri({ bucket, key: [key, ...segments].filter(Boolean).join('/') });
  }
  return join(resolve(localPath(store)), ...segments);
}

/**
 * Checks a `--store` value before anything runs: an S3 URI needs a bucket,
 * other schemes are refused. Throws a `UsageError` (exit code 2).
 */
export function checkStore(store: string): void {
  try {
    if (store.trim() === '') throw new InvalidUriError(store, 'is empty.');
    if (isS3Uri(store)) parseS3Uri(store);
    else localPath(store);
  } catch (err) {
    if (!(err instanceof InvalidUriError)) throw err;
    throw new UsageError(`--store got "${store}": ${err.reason} Expected a folder or s3://bucket/prefix.`, { cause: err });
  }
}
