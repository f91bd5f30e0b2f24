import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidUriError, UsageError } from '../errors';
import { DirectoryTarget, LocalDirectoryTarget } from './directory-target';
import type { FileSystem } from './file-system';
import { FileTarget, LocalTarget } from './file-target';
import { localFileSystem } from './local-file-system';
import { defaultS3FileSystem, type S3FileSystem } from './s3-file-system';
import { S3DirectoryTarget, S3Target } from './s3-target';
import { formatS3Uri, parseS3Uri, relativeSegments } from './s3-uri';

export interface TargetOptions {
  /** The file system for `s3://` URIs; default: the shared one (`defaultS3FileSystem()`). */
  s3?: S3FileSystem;
  /** File systems for other registered schemes, by scheme name (`{ gs: myGcsFileSystem }`). */
  fileSystems?: Readonly<Record<string, FileSystem>>;
}

/**
 * A storage backend reachable by URI (`gs://`, `az://`, ...), registered with
 * `registerScheme` so that `target()`, `directoryTarget()`, `storePath()` and
 * `--store` accept its URIs; no edit of this file needed. A backend is one
 * `FileSystem`; its targets are plain `FileTarget`s and `DirectoryTarget`s
 * over it, with the URI as their path.
 */
export interface SchemeHandler {
  /** Lower case, without `://`: `gs`. */
  readonly scheme: string;
  /** The file system for this scheme's URIs (`options` may carry a caller's own). */
  fileSystem(options: TargetOptions): FileSystem;
  /** Throws `InvalidUriError` for a URI this scheme cannot use as a store (e.g. no bucket). Default: any. */
  checkStore?(uri: string): void;
  /** A target for `uri`; default: a `FileTarget` on `fileSystem()` with the URI as its path. */
  target?(uri: string, options: TargetOptions): FileTarget;
  directoryTarget?(uri: string, options: TargetOptions): DirectoryTarget;
  /** `base` joined with checked relative segments; default: slash-joined without doubled slashes. */
  join?(base: string, segments: readonly string[]): string;
}

const s3Scheme: SchemeHandler = {
  scheme: 's3',
  fileSystem: (options) => options.s3 ?? defaultS3FileSystem(),
  checkStore: (uri) => void parseS3Uri(uri),
  target: (uri, options) => new S3Target(uri, options.s3),
  directoryTarget: (uri, options) => new S3DirectoryTarget(uri, options.s3),
  join: (base, segments) => {
    const { bucket, key } = parseS3Uri(base);
    return formatS3Uri({ bucket, key: [key, ...segments].filter(Boolean).join('/') });
  },
};

const schemes = new Map<string, SchemeHandler>([['s3', s3Scheme]]);

/**
 * Makes URIs of `handler.scheme` usable everywhere a target or store is
 * named: `registerScheme({ scheme: 'gs', fileSystem: () => new GcsFileSystem() })`.
 * Registering a scheme again replaces it; `file` is always local disk.
 */
export function registerScheme(handler: SchemeHandler): void {
  const name = handler.scheme.toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(name) || name === 'file') {
    throw new UsageError(`registerScheme: "${handler.scheme}" cannot be registered; expected a URI scheme other than "file" (letters, digits, + . -).`);
  }
  schemes.set(name, { ...handler, scheme: name });
}

const schemePattern = /^([a-z][a-z0-9+.-]*):\/\//i;

/** The URI's scheme in lower case (`s3`), or undefined for a local path or a `file://` URI. */
export function uriScheme(uri: string): string | undefined {
  const name = schemePattern.exec(uri)?.[1].toLowerCase();
  return name === 'file' ? undefined : name;
}

/** Whether `uri` names a place off this machine (any scheme but `file://`). */
export function isRemoteUri(uri: string): boolean {
  return uriScheme(uri) !== undefined;
}

function expectedSchemes(): string {
  return ['a local path', ...[...schemes.keys()].map((s) => (s === 's3' ? 's3://bucket/key' : `${s}://...`))].join(', ');
}

/** The registered handler for a remote URI; throws for unknown schemes. */
function handlerFor(uri: string, scheme: string): SchemeHandler {
  const handler = schemes.get(scheme);
  if (handler) return handler;
  throw new InvalidUriError(uri, `unsupported scheme "${schemePattern.exec(uri)![1]}://"; expected ${expectedSchemes()} (registerScheme() adds others).`);
}

/** A local path from a path or a `file://` URI; throws for other schemes. */
export function localPath(uri: string): string {
  const match = schemePattern.exec(uri);
  if (!match) return uri;
  if (match[1].toLowerCase() === 'file') return fileURLToPath(uri);
  throw new InvalidUriError(uri, `unsupported scheme "${match[1]}://"; expected a local path or s3://bucket/key.`);
}

/** The file system behind a URI: local disk, S3, or a registered scheme's. */
export function fileSystemFor(uri: string, options: TargetOptions = {}): FileSystem {
  const scheme = uriScheme(uri);
  if (scheme === undefined) return localFileSystem;
  return options.fileSystems?.[scheme] ?? handlerFor(uri, scheme).fileSystem(options);
}

/**
 * The file target for a URI: `s3://bucket/key` is an `S3Target`; a path
 * (relative to the working directory, or absolute) or a `file://` URI is a
 * `LocalTarget`; a registered scheme's URI a target on its file system.
 */
export function target(uri: `s3://${string}`, options?: TargetOptions): S3Target;
export function target(uri: string, options?: TargetOptions): FileTarget;
export function target(uri: string, options: TargetOptions = {}): FileTarget {
  const scheme = uriScheme(uri);
  if (scheme === undefined) return new LocalTarget(localPath(uri));
  const handler = handlerFor(uri, scheme);
  if (handler.target && !options.fileSystems?.[scheme]) return handler.target(uri, options);
  return new FileTarget(fileSystemFor(uri, options), uri, uri);
}

/** The directory target for a URI: `S3DirectoryTarget` (published by `_SUCCESS`), `LocalDirectoryTarget`, or a registered scheme's. */
export function directoryTarget(uri: `s3://${string}`, options?: TargetOptions): S3DirectoryTarget;
export function directoryTarget(uri: string, options?: TargetOptions): DirectoryTarget;
export function directoryTarget(uri: string, options: TargetOptions = {}): DirectoryTarget {
  const scheme = uriScheme(uri);
  if (scheme === undefined) return new LocalDirectoryTarget(localPath(uri));
  const handler = handlerFor(uri, scheme);
  if (handler.directoryTarget && !options.fileSystems?.[scheme]) return handler.directoryTarget(uri, options);
  return new DirectoryTarget(fileSystemFor(uri, options), uri, uri);
}

/**
 * A location under a store (`--store`): `storePath('s3://b/runs', 'models/v1')`
 * is `s3://b/runs/models/v1`, `storePath('/data', 'models', 'v1')` is
 * `/data/models/v1`. Parts are relative paths; `..` and absolute parts are
 * refused, so nothing lands outside the store.
 */
export function storePath(store: string, ...parts: string[]): string {
  const segments = parts.flatMap((part) => relativeSegments(store, part));
  const scheme = uriScheme(store);
  if (scheme === undefined) return join(resolve(localPath(store)), ...segments);
  const handler = handlerFor(store, scheme);
  if (handler.join) return handler.join(store, segments);
  return [store.replace(/\/+$/, ''), ...segments].join('/');
}

/**
 * Checks a `--store` value before anything runs: an S3 URI needs a bucket,
 * unregistered schemes are refused. Throws a `UsageError` (exit code 2).
 */
export function checkStore(store: string): void {
  try {
    if (store.trim() === '') throw new InvalidUriError(store, 'is empty.');
    const scheme = uriScheme(store);
    if (scheme === undefined) localPath(store);
    else handlerFor(store, scheme).checkStore?.(store);
  } catch (err) {
    if (!(err instanceof InvalidUriError)) throw err;
    const others = [...schemes.keys()].filter((s) => s !== 's3').map((s) => ` or ${s}://...`).join('');
    throw new UsageError(`--store got "${store}": ${err.reason} Expected a folder or s3://bucket/prefix${others}.`, { cause: err });
  }
}
