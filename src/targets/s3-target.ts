import { DirectoryTarget } from './directory-target';
import { FileTarget } from './file-target';
import { defaultS3FileSystem, type S3FileSystem } from './s3-file-system';
import { formatS3Uri, parseS3ObjectUri } from './s3-uri';

/**
 * One object, `s3://bucket/key`, with the same read and write helpers as a
 * local file. Without `fs`, uses the process's shared S3 file system (and
 * client, from the standard AWS configuration).
 */
export class S3Target extends FileTarget {
  declare readonly fs: S3FileSystem;

  constructor(uri: string, fs: S3FileSystem = defaultS3FileSystem()) {
    const normalized = formatS3Uri(parseS3ObjectUri(uri));
    super(fs, normalized, normalized);
  }
}

/**
 * Several objects under `s3://bucket/prefix/`, published together by the
 * marker object `prefix/_SUCCESS`, which is written last: `exists()` checks
 * the marker, `list()` names the objects without it.
 */
export class S3DirectoryTarget extends DirectoryTarget {
  declare readonly fs: S3FileSystem;

  constructor(uri: string, fs: S3FileSystem = defaultS3FileSystem()) {
    const normalized = formatS3Uri(parseS3ObjectUri(uri));
    super(fs, normalized, normalized);
  }
}
