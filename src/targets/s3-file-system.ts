import type { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { throwIfAttemptAborted } from '../cancellation';
import { DagwrightError, InvalidUriError, StorageError } from '../errors';
import type { DirectoryWriter, FileSystem, FolderEntry, WriteBody } from './file-system';
import { defaultS3Client, describeEndpoint } from './s3-client';
import { S3ExistenceChecker } from './s3-existence';
import { clientS3, libStorage } from './s3-sdk';
import { httpStatus, toStorageError } from './s3-errors';
import { formatS3Uri, parseS3ObjectUri, parseS3Uri, relativeSegments } from './s3-uri';

/** The object that publishes a directory target: written last, checked by `exists()` (Luigi's convention). */
export const SUCCESS_MARKER = '_SUCCESS';

/** The settings of the AWS SDK (and ours) that a child process needs to reach the same S3 server as this one. */
const S3_ENVIRONMENT = ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'DAGWRIGHT_S3_FORCE_PATH_STYLE'] as const;

/** S3's smallest part for every part of a multipart upload but the last. */
const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3FileSystemOptions {
  /** Default: the process's shared client from the standard AWS configuration (`defaultS3Client()`), made on first use. */
  client?: S3Client;
  /** Part size of streamed uploads, in bytes; default 8 MiB (S3's minimum is 5 MiB). A stream shorter than one part is sent in one PUT. */
  partSize?: number;
  /** Parts of one streamed upload sent at once; default 4. */
  queueSize?: number;
}

/**
 * S3 (or an S3-compatible server) as a `FileSystem`; paths are `s3://bucket/key`
 * URIs. A write is atomic because S3 publishes an object only when its PUT or
 * multipart upload completes: a buffer goes in one PUT; a stream goes through
 * a multipart upload that is aborted on the server when the stream or a part
 * fails. A directory is the objects under `key/`, published by writing
 * `key/_SUCCESS` last.
 */
export class S3FileSystem implements FileSystem {
  private injected: S3Client | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;
  /** Buckets seen to exist, so a 404 from HEAD costs one HeadBucket per bucket, not one per check. */
  private readonly knownBuckets = new Map<string, Promise<boolean>>();
  private readonly existence = new S3ExistenceChecker(
    (bucket, prefix, maxPages) => this.listFolder(bucket, prefix, maxPages),
    (bucket, key) => this.headExists(bucket, key),
  );

  constructor(options: S3FileSystemOptions = {}) {
    this.injected = options.client;
    this.partSize = options.partSize ?? 8 * 1024 * 1024;
    this.queueSize = options.queueSize ?? 4;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new DagwrightError(`S3FileSystem: expected \`partSize\` to be an integer >= ${MIN_PART_SIZE} (S3's minimum part size), got ${this.partSize}.`);
    }
  }

  get client(): S3Client {
    this.injected ??= defaultS3Client();
    return this.injected;
  }

  /** Sends a command; failures become `StorageError`s naming the bucket, key and endpoint. */
  private async send<T>(operation: string, bucket: string, key: string | undefined, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw await toStorageError(err, { client: this.client, operation, bucket, key });
    }
  }

  /**
   * True if the object is there, false if it is absent from an existing
   * bucket; any other failure throws. Many checks in one folder at once are
   * answered by a listing (see S3ExistenceChecker), the rest by HEAD.
   */
  exists(uri: string): Promise<boolean> {
    const { bucket, key } = parseS3ObjectUri(uri);
    return this.existence.exists(bucket, key);
  }

  /** The keys directly in a folder (not in its subfolders), up to `maxPages` pages. */
  private listFolder(bucket: string, prefix: string, maxPages: number): Promise<{ keys: string[]; complete: boolean }> {
    return this.send('ListObjectsV2', bucket, prefix, async () => {
      const keys: string[] = [];
      let pages = 0;
      for await (const page of clientS3.paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix, Delimiter: '/' })) {
        for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
        if (++pages >= maxPages && page.IsTruncated) return { keys, complete: false };
      }
      return { keys, complete: true };
    });
  }

  /** A HEAD request; a 404 is told apart from a missing bucket. */
  private async headExists(bucket: string, key: string): Promise<boolean> {
    try {
      await this.client.send(new clientS3.HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (err) {
      if (httpStatus(err) !== 404) throw await toStorageError(err, { client: this.client, operation: 'HeadObject', bucket, key });
    }
    // HEAD has no body: a missing key and a missing bucket are both a bare 404.
    let found: boolean;
    try {
      found = await this.bucketExists(bucket);
    } catch (err) {
      throw await toStorageError(err, { client: this.client, operation: 'HeadBucket', bucket, key });
    }
    if (!found) {
      const noSuchBucket = { name: 'NoSuchBucket', message: 'The specified bucket does not exist', $metadata: { httpStatusCode: 404 } };
      throw await toStorageError(noSuchBucket, { client: this.client, operation: 'HeadObject', bucket, key });
    }
    return false;
  }

  /**
   * HeadBucket, once per bucket while it exists; concurrent checks share the
   * request. A bucket found missing is asked about again next time (it may
   * have been created since).
   */
  private bucketExists(bucket: string): Promise<boolean> {
    let check = this.knownBuckets.get(bucket);
    if (!check) {
      check = this.client.send(new clientS3.HeadBucketCommand({ Bucket: bucket })).then(
        () => true,
        (err: unknown) => {
          const status = httpStatus(err);
          // Without s3:ListBucket HeadBucket is refused though the bucket exists: the object's 404 stands.
          if (status === 403) return true;
          if (status === 404) return false;
          throw err;
        },
      );
      const settled = check;
      this.knownBuckets.set(bucket, settled);
      const forget = () => {
        if (this.knownBuckets.get(bucket) === settled) this.knownBuckets.delete(bucket);
      };
      settled.then((found) => found || forget(), forget);
    }
    return check;
  }

  async read(uri: string): Promise<Buffer> {
    const { bucket, key } = parseS3ObjectUri(uri);
    return this.send('GetObject', bucket, key, async () => {
      const response = await this.client.send(new clientS3.GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await response.Body!.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async readStream(uri: string): Promise<Readable> {
    const { bucket, key } = parseS3ObjectUri(uri);
    const response = await this.send('GetObject', bucket, key, () => this.client.send(new clientS3.GetObjectCommand({ Bucket: bucket, Key: key })));
    return response.Body as Readable;
  }

  async write(uri: string, body: WriteBody): Promise<void> {
    const { bucket, key } = parseS3ObjectUri(uri);
    await this.writeObject(bucket, key, body);
  }

  private async writeObject(bucket: string, key: string, body: WriteBody): Promise<void> {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      throwIfAttemptAborted();
      await this.send('PutObject', bucket, key, () => this.client.send(new clientS3.PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
      return;
    }
    await this.upload(bucket, key, body instanceof Readable ? body : Readable.from(body));
  }

  /**
   * A PUT with `If-None-Match: *`: S3 (since 2024) and most compatible
   * servers refuse it with 412 when the key exists, so exactly one of many
   * racing writers wins. Servers that ignore the header (s3rver) let the
   * last writer win: callers that need exclusion there also hold a lock.
   */
  async writeIfAbsent(uri: string, body: string | Uint8Array): Promise<boolean> {
    const { bucket, key } = parseS3ObjectUri(uri);
    throwIfAttemptAborted();
    try {
      await this.client.send(new clientS3.PutObjectCommand({ Bucket: bucket, Key: key, Body: body, IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      // 409: a concurrent conditional write to the same key is in flight; it will win or has won.
      if (httpStatus(err) === 412 || httpStatus(err) === 409) return false;
      throw await toStorageError(err, { client: this.client, operation: 'PutObject', bucket, key });
    }
  }

  /**
   * Aborts the multipart uploads under `prefix` started more than
   * `olderThanMs` ago, or before `now` when `writerGone(key)` says their
   * writer is dead: the parts of streamed writes whose writer was killed
   * before it could abort them. Other uploads may belong to live writers
   * and are kept. Returns the keys of the uploads aborted.
   */
  async abortStaleUploads(
    bucket: string,
    prefix: string,
    olderThanMs: number,
    now = Date.now(),
    writerGone: (key: string) => Promise<boolean> = async () => false,
  ): Promise<string[]> {
    const stale: { Key: string; UploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.send('ListMultipartUploads', bucket, prefix, () =>
        this.client.send(new clientS3.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker })),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key?.startsWith(prefix) || upload.UploadId === undefined) continue; // servers that ignore Prefix
        const age = upload.Initiated === undefined ? 0 : now - upload.Initiated.getTime();
        if (age > olderThanMs || (age >= 0 && (await writerGone(upload.Key)))) stale.push({ Key: upload.Key, UploadId: upload.UploadId });
      }
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
    for (const { Key, UploadId } of stale) {
      await this.send('AbortMultipartUpload', bucket, Key, () => this.client.send(new clientS3.AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId })));
    }
    return stale.map((u) => u.Key);
  }

  /**
   * A streamed write through lib-storage's `Upload`: one PUT for a stream
   * shorter than a part, else a multipart upload. When the stream or a part
   * fails, `Upload` sends AbortMultipartUpload before rejecting, so no upload
   * is left behind. The attempt's cancellation is checked right before the
   * request that publishes (the single PUT or CompleteMultipartUpload).
   */
  private async upload(bucket: string, key: string, source: Readable): Promise<void> {
    let sourceError: unknown;
    source.once('error', (err) => {
      sourceError ??= err;
    });
    const upload = new libStorage.Upload({
      client: this.gatedClient(),
      params: { Bucket: bucket, Key: key, Body: source },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      source.destroy(); // the upload stopped reading it: release its file handle or socket
      if (sourceError !== undefined && err === sourceError) throw err; // the writer's own failure, as for local files
      if (err instanceof DagwrightError) throw err; // cancelled before publishing
      const failure = await toStorageError(err, { client: this.client, operation: 'Upload', bucket, key });
      if (sourceError === undefined) throw failure;
      // The stream failed and aborting the multipart upload failed too: say both.
      throw new StorageError({
        problem: failure.problem,
        operation: 'AbortMultipartUpload',
        bucket,
        key,
        endpoint: failure.endpoint,
        status: failure.status,
        retryable: false,
        message:
          `writing ${formatS3Uri({ bucket, key })} failed (${sourceError instanceof Error ? sourceError.message : String(sourceError)}), ` +
          `and aborting its multipart upload also failed: ${failure.message} The upload's parts may stay on the server until a lifecycle rule ` +
          `(AbortIncompleteMultipartUpload) removes them.`,
        cause: sourceError,
      });
    }
  }

  /** The client, with the attempt's cancellation checked before each request that would publish an object. */
  private gatedClient(): S3Client {
    const client = this.client;
    const gated = Object.create(client) as S3Client;
    const send = (command: unknown, ...rest: unknown[]): unknown => {
      if (command instanceof clientS3.CompleteMultipartUploadCommand || command instanceof clientS3.PutObjectCommand) throwIfAttemptAborted();
      return (client.send as (...args: unknown[]) => unknown)(command, ...rest);
    };
    gated.send = send as S3Client['send'];
    return gated;
  }

  directoryExists(uri: string): Promise<boolean> {
    return this.exists(this.join(uri, SUCCESS_MARKER));
  }

  /**
   * Unpublishes whatever is at `uri` (marker first, then its objects), lets
   * `fill` write objects under `uri/`, then writes the marker. A failed fill
   * writes no marker and removes the objects it wrote. Unlike a local
   * directory, an old version is gone as soon as a new one starts.
   */
  async writeDirectory(uri: string, fill: (dir: DirectoryWriter) => Promise<void>): Promise<void> {
    const { bucket, key } = parseS3ObjectUri(uri);
    await this.removePrefix(bucket, key);
    const written: string[] = [];
    try {
      await fill({
        write: async (name, body) => {
          const fileKey = this.directoryFileKey(uri, key, name);
          written.push(fileKey);
          await this.writeObject(bucket, fileKey, body);
        },
      });
      throwIfAttemptAborted();
      await this.send('PutObject', bucket, `${key}/${SUCCESS_MARKER}`, () =>
        this.client.send(new clientS3.PutObjectCommand({ Bucket: bucket, Key: `${key}/${SUCCESS_MARKER}`, Body: '' })),
      );
    } catch (err) {
      await this.deleteKeys(bucket, written).catch(() => undefined); // best effort: without the marker they are invisible anyway
      throw err;
    }
  }

  private directoryFileKey(uri: string, key: string, name: string): string {
    const segments = relativeSegments(uri, name);
    if (segments.length === 0) throw new InvalidUriError(`${uri}/${name}`, 'a file in a directory target needs a name.');
    if (segments.length === 1 && segments[0] === SUCCESS_MARKER) {
      throw new InvalidUriError(`${uri}/${name}`, `"${SUCCESS_MARKER}" is reserved for the marker that publishes the directory.`);
    }
    return `${key}/${segments.join('/')}`;
  }

  /** Names of the objects under `uri/`, relative to it and sorted, without the marker. */
  async listDirectory(uri: string): Promise<string[]> {
    const { bucket, key } = parseS3ObjectUri(uri);
    const prefix = `${key}/`;
    const keys = await this.listKeys(bucket, prefix);
    return keys
      .map((k) => k.slice(prefix.length))
      .filter((name) => name !== SUCCESS_MARKER)
      .sort();
  }

  private listKeys(bucket: string, prefix: string): Promise<string[]> {
    return this.send('ListObjectsV2', bucket, prefix, async () => {
      const keys: string[] = [];
      for await (const page of clientS3.paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix })) {
        for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      }
      return keys;
    });
  }

  /** Removes the object at `uri` and, as for a directory, the marker and everything under `uri/`. */
  async remove(uri: string): Promise<void> {
    const { bucket, key } = parseS3ObjectUri(uri);
    this.existence.forget(bucket, key);
    await this.removePrefix(bucket, key);
    await this.send('DeleteObject', bucket, key, () => this.client.send(new clientS3.DeleteObjectCommand({ Bucket: bucket, Key: key })));
  }

  /** Marker first, so readers stop seeing the directory before its files go. */
  private async removePrefix(bucket: string, key: string): Promise<void> {
    const marker = `${key}/${SUCCESS_MARKER}`;
    this.existence.forget(bucket, marker);
    await this.send('DeleteObject', bucket, marker, () => this.client.send(new clientS3.DeleteObjectCommand({ Bucket: bucket, Key: marker })));
    await this.deleteKeys(bucket, await this.listKeys(bucket, `${key}/`));
  }

  private async deleteKeys(bucket: string, keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const result = await this.send('DeleteObjects', bucket, batch[0], () =>
        this.client.send(new clientS3.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      const failed = result.Errors ?? [];
      if (failed.length > 0) {
        const endpoint = await describeEndpoint(this.client);
        throw new StorageError({
          problem: failed[0].Code === 'AccessDenied' ? 'access-denied' : 'request-failed',
          operation: 'DeleteObjects',
          bucket,
          key: failed[0].Key,
          endpoint,
          retryable: false,
          message: `deleting ${failed.length} object(s) in bucket "${bucket}" at ${endpoint} failed, first ${failed[0].Key}: ${failed[0].Code} ${failed[0].Message ?? ''}`.trim(),
        });
      }
    }
  }

  /** One ListObjectsV2 walk with a delimiter: objects are files, common prefixes folders; the directory marker is not listed. */
  async list(uri: string): Promise<FolderEntry[]> {
    const { bucket, key } = parseS3Uri(uri);
    const prefix = key === '' ? '' : `${key}/`;
    const entries = await this.send('ListObjectsV2', bucket, prefix, async () => {
      const found: FolderEntry[] = [];
      for await (const page of clientS3.paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix, Delimiter: '/' })) {
        for (const object of page.Contents ?? []) {
          const name = object.Key?.slice(prefix.length);
          if (name && name !== SUCCESS_MARKER) found.push({ name, kind: 'file' });
        }
        for (const folder of page.CommonPrefixes ?? []) {
          const name = folder.Prefix?.slice(prefix.length).replace(/\/+$/, '');
          if (name) found.push({ name, kind: 'folder' });
        }
      }
      return found;
    });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The object's ETag (one HEAD request); undefined when there is no such object. */
  async stamp(uri: string): Promise<string | undefined> {
    const { bucket, key } = parseS3ObjectUri(uri);
    try {
      return (await this.client.send(new clientS3.HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? '';
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw await toStorageError(err, { client: this.client, operation: 'HeadObject', bucket, key });
    }
  }

  async writtenAt(uri: string): Promise<number | undefined> {
    const { bucket, key } = parseS3ObjectUri(uri);
    // A published directory is its _SUCCESS marker: written last, when every file was there.
    for (const candidate of [key, `${key}/${SUCCESS_MARKER}`]) {
      try {
        return (await this.client.send(new clientS3.HeadObjectCommand({ Bucket: bucket, Key: candidate }))).LastModified?.getTime();
      } catch (err) {
        if (httpStatus(err) !== 404) throw await toStorageError(err, { client: this.client, operation: 'HeadObject', bucket, key: candidate });
      }
    }
    return undefined;
  }

  localPath(): undefined {
    return undefined;
  }

  environment(): readonly string[] {
    return S3_ENVIRONMENT;
  }

  join(dir: string, name: string): string {
    const segments = relativeSegments(dir, name);
    return [dir.replace(/\/+$/, ''), ...segments].join('/');
  }

  parent(uri: string): string {
    const { bucket, key } = parseS3ObjectUri(uri);
    return formatS3Uri({ bucket, key: key.slice(0, Math.max(0, key.lastIndexOf('/'))) });
  }

  relative(dir: string, uri: string): string {
    const folder = parseS3Uri(dir);
    const file = parseS3Uri(uri);
    const prefix = folder.key === '' ? '' : `${folder.key}/`;
    if (file.bucket !== folder.bucket || !file.key.startsWith(prefix) || file.key === prefix) {
      throw new InvalidUriError(uri, `is not inside ${formatS3Uri(folder)}.`);
    }
    return file.key.slice(prefix.length);
  }
}

let sharedFileSystem: S3FileSystem | undefined;

/** The file system of S3 targets made without one: uses `defaultS3Client()` (made on first request). */
export function defaultS3FileSystem(): S3FileSystem {
  sharedFileSystem ??= new S3FileSystem();
  return sharedFileSystem;
}
