import type { S3Client } from '@aws-sdk/client-s3';
import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { S3DirectoryTarget, S3Target, StorageError } from '../src';
import { type S3FileSystem } from '../src/public/store';
import { freshBucket, s3Endpoint, s3TestClient, s3TestFileSystem } from './helpers/s3';

let client: S3Client;
let fs: S3FileSystem;
let bucket: string;

beforeAll(async () => {
  client = s3TestClient();
  fs = s3TestFileSystem({}, client);
  bucket = await freshBucket(client, 'errors');
});

/** A loopback port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function storageError(promise: Promise<unknown>): Promise<StorageError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

describe('S3 errors', () => {
  it('a missing key is absent (false); reading it says so', async () => {
    const target = new S3Target(`s3://${bucket}/nothing/here.txt`, fs);
    expect(await target.exists()).toBe(false);
    const err = await storageError(target.readText());
    expect(err.problem).toBe('no-such-key');
    expect(err.message).toContain(`s3://${bucket}/nothing/here.txt does not exist`);
  });

  it('a missing bucket throws from exists(), read and write, naming the bucket and endpoint', async () => {
    const target = new S3Target('s3://no-such-bucket-here/a.txt', fs);
    const attempts = [() => target.exists(), () => target.readText(), () => target.writeText('x'), () => new S3DirectoryTarget('s3://no-such-bucket-here/d', fs).exists()];
    for (const attempt of attempts) {
      const err = await storageError(attempt());
      expect(err.problem).toBe('no-such-bucket');
      expect(err.bucket).toBe('no-such-bucket-here');
      expect(err.endpoint).toBe(s3Endpoint());
      expect(err.retryable).toBe(false);
      expect(err.message).toContain('bucket "no-such-bucket-here" does not exist');
      expect(err.message).toContain(s3Endpoint());
    }
  });

  it('concurrent checks in a missing bucket each fail, naming their own object', async () => {
    const keys = ['a.txt', 'b.txt', 'c.txt'];
    const results = await Promise.allSettled(keys.map((k) => new S3Target(`s3://no-such-bucket-here/${k}`, fs).exists()));
    results.forEach((result, i) => {
      expect(result.status).toBe('rejected');
      const err = (result as PromiseRejectedResult).reason as StorageError;
      expect(err.problem).toBe('no-such-bucket');
      expect(err.key).toBe(keys[i]);
      expect(err.message).toContain(`s3://no-such-bucket-here/${keys[i]}`);
    });
  });

  it('a bucket found missing is checked again later (it may have been created since)', async () => {
    const name = `late-${Date.now().toString(36)}`;
    const target = new S3Target(`s3://${name}/a.txt`, fs);
    await storageError(target.exists());
    await freshBucketNamed(name);
    expect(await target.exists()).toBe(false);
  });

  it('an unreachable endpoint (a closed loopback port) throws a retryable error naming it', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = s3TestFileSystem({}, s3TestClient({ endpoint }));
    const err = await storageError(new S3Target(`s3://${bucket}/a.txt`, unreachable).exists());
    expect(err.problem).toBe('unreachable');
    expect(err.retryable).toBe(true);
    expect(err.endpoint).toBe(endpoint);
    expect(err.message).toContain(`cannot reach the S3 endpoint ${endpoint} (ECONNREFUSED)`);
    expect(err.message).toContain(`s3://${bucket}/a.txt`);
  });

  // s3rver rejects an access key id it does not know (403 InvalidAccessKeyId) but does not
  // verify signatures (any secret passes), so a bad secret cannot be tested against it.
  it('refused credentials throw (403), and neither the key id nor the secret appears in the error or its log line', async () => {
    const credentials = { accessKeyId: 'AKIAUNKNOWNKEY123456', secretAccessKey: 'very-secret-value-do-not-log' };
    const refused = s3TestFileSystem({}, s3TestClient({ credentials }));
    const head = await storageError(new S3Target(`s3://${bucket}/a.txt`, refused).exists());
    expect(head.problem).toBe('access-denied');
    expect(head.status).toBe(403);
    expect(head.message).toContain(`bucket "${bucket}"`);
    expect(head.message).toContain(s3Endpoint());

    // GET and PUT get a body naming the problem (and echoing the key id, which must not leak).
    const get = await storageError(new S3Target(`s3://${bucket}/a.txt`, refused).readText());
    expect(get.problem).toBe('bad-credentials');
    expect(get.message).toContain('InvalidAccessKeyId');
    const put = await storageError(new S3Target(`s3://${bucket}/a.txt`, refused).writeText('x'));
    expect(put.problem).toBe('bad-credentials');

    // As dagwright's logger would write them: pino's error serializer, cause included.
    let logged = '';
    const logger = pino({ level: 'info' }, { write: (line: string) => void (logged += line) });
    for (const err of [head, get, put]) logger.error({ err }, err.message);
    expect(logged).toContain('InvalidAccessKeyId');
    for (const text of [logged, ...[head, get, put].map((e) => `${e.message} ${e.stack} ${JSON.stringify(e)} ${String((e.cause as Error)?.stack)}`)]) {
      expect(text).not.toContain(credentials.accessKeyId);
      expect(text).not.toContain(credentials.secretAccessKey);
    }
  });
});

async function freshBucketNamed(name: string): Promise<void> {
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  await client.send(new CreateBucketCommand({ Bucket: name }));
}
