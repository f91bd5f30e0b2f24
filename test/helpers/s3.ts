import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { S3FileSystem, type S3FileSystemOptions } from '../../src/public/store';
import { s3rverCredentials } from './s3-server';

/** The endpoint of the suite's S3 server (test/setup/s3-server.ts). */
export function s3Endpoint(): string {
  return inject('s3Endpoint');
}

/** A client for the test server: explicit endpoint, path-style, static credentials. */
export function s3TestClient(overrides: { endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } = {}): S3Client {
  return new S3Client({
    endpoint: overrides.endpoint ?? s3Endpoint(),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: overrides.credentials ?? s3rverCredentials,
    maxAttempts: 1,
  });
}

export function s3TestFileSystem(options: Omit<S3FileSystemOptions, 'client'> = {}, client: S3Client = s3TestClient()): S3FileSystem {
  return new S3FileSystem({ ...options, client });
}

/** Makes a bucket with a unique name (prefix + random part), so test files never share one. */
export async function freshBucket(client: S3Client, prefix: string): Promise<string> {
  const bucket = `${prefix}-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Multipart uploads the server still holds in `bucket`. */
export async function openUploads(client: S3Client, bucket: string): Promise<{ key: string; uploadId: string }[]> {
  const result = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (result.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
}

/** The environment a flow process needs to use the suite's S3 server as its store (and `stateDir` for its locks). */
export function s3FlowEnv(stateDir: string): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: s3Endpoint(),
    DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
    AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey,
    DAGWRIGHT_STATE_DIR: stateDir,
  };
}
