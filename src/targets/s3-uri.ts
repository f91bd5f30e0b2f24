import { InvalidUriError } from '../errors';

/** A bucket and a key, from `s3://bucket/key`. */
export interface S3Location {
  readonly bucket: string;
  /** No leading or trailing slash, no empty segments; '' for the bucket itself. */
  readonly key: string;
}

export function isS3Uri(uri: string): boolean {
  return /^s3:\/\//i.test(uri);
}

/**
 * The characters of bucket names (legacy names may have capitals and
 * underscores). Length and the finer rules are left to the server, which
 * answers with a clear error.
 */
const bucketName = /^[A-Za-z0-9._-]+$/;

/**
 * Splits `s3://bucket/some/key`. Repeated and trailing slashes in the key are
 * dropped, so joined paths never make keys such as `a//b`.
 */
export function parseS3Uri(uri: string): S3Location {
  if (!isS3Uri(uri)) throw new InvalidUriError(uri, 'not an S3 URI; expected s3://bucket/key.');
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  if (bucket === '') throw new InvalidUriError(uri, 'an S3 URI needs a bucket: s3://bucket/key.');
  if (!bucketName.test(bucket)) {
    throw new InvalidUriError(uri, `"${bucket}" is not a valid bucket name (letters, digits, dots, hyphens).`);
  }
  const key = slash === -1 ? '' : rest.slice(slash + 1).split('/').filter(Boolean).join('/');
  return { bucket, key };
}

/** Like `parseS3Uri`, for an object or a directory prefix: the key must not be empty. */
export function parseS3ObjectUri(uri: string): S3Location {
  const location = parseS3Uri(uri);
  if (location.key === '') throw new InvalidUriError(uri, 'names a bucket, not an object; expected s3://bucket/key.');
  return location;
}

export function formatS3Uri({ bucket, key }: S3Location): string {
  return key === '' ? `s3://${bucket}` : `s3://${bucket}/${key}`;
}

/**
 * Checks a relative path for joining under a prefix: no absolute paths, no
 * `..` (it would leave the prefix). Returns its segments without `.` and
 * empty ones.
 */
export function relativeSegments(base: string, relative: string): string[] {
  if (relative.startsWith('/') || /^[A-Za-z]:[\\/]/.test(relative) || /^[a-z][a-z0-9+.-]*:\/\//i.test(relative)) {
    throw new InvalidUriError(`${base}/${relative}`, `"${relative}" must be a relative path.`);
  }
  const segments = relative.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new InvalidUriError(`${base}/${relative}`, `"${relative}" must not contain "..".`);
  return segments;
}
