import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createS3Client, S3FileSystem } from '../src/public/store';
import { directoryTarget, LocalDirectoryTarget, LocalTarget, S3DirectoryTarget, S3Target, storePath, target, UsageError } from '../src';
import { InvalidUriError } from '../src/public/errors';
import { checkStore } from '../src/targets/uri';
import { parseS3Uri } from '../src/targets/s3-uri';

describe('target() and directoryTarget()', () => {
  const fs = new S3FileSystem({ client: createS3Client({ env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1' } }) });

  it('turns s3:// URIs into S3 targets and paths into local ones', () => {
    const s3 = target('s3://bucket/a/b.json', { s3: fs });
    expect(s3).toBeInstanceOf(S3Target);
    expect(s3.uri).toBe('s3://bucket/a/b.json');
    expect(s3.fs).toBe(fs);
    expect(target('s3://bucket/a/b.json')).toBeInstanceOf(S3Target); // the shared file system; no request is made

    const relative = target('./data/x.txt');
    expect(relative).toBeInstanceOf(LocalTarget);
    expect(relative.path).toBe(resolve('data/x.txt'));
    expect(target('/abs/x').path).toBe('/abs/x');
    expect(target('file:///tmp/y.txt').path).toBe('/tmp/y.txt');

    expect(directoryTarget('s3://bucket/models/v1/', { s3: fs })).toBeInstanceOf(S3DirectoryTarget);
    expect(directoryTarget('s3://bucket/models/v1/', { s3: fs }).uri).toBe('s3://bucket/models/v1');
    expect(directoryTarget('./models')).toBeInstanceOf(LocalDirectoryTarget);
  });

  it('refuses URIs it cannot serve, naming them', () => {
    expect(() => target('s3://')).toThrow(InvalidUriError);
    expect(() => target('s3:///key')).toThrow('"s3:///key": an S3 URI needs a bucket: s3://bucket/key.');
    expect(() => target('s3://bucket')).toThrow(/names a bucket, not an object/);
    expect(() => target('s3://bad bucket/k')).toThrow(/not a valid bucket name/);
    expect(() => target('gs://bucket/k')).toThrow(/unsupported scheme "gs:\/\/"/);
    expect(() => directoryTarget('http://example.com/x')).toThrow(InvalidUriError);
  });
});

describe('storePath()', () => {
  it('joins under an S3 store', () => {
    expect(storePath('s3://b/runs', 'models/v1')).toBe('s3://b/runs/models/v1');
    expect(storePath('s3://b/runs/', 'models', 'v1', 'w.bin')).toBe('s3://b/runs/models/v1/w.bin');
    expect(storePath('s3://b', 'x.txt')).toBe('s3://b/x.txt');
    expect(storePath('s3://b/runs', './a//b')).toBe('s3://b/runs/a/b');
  });

  it('joins under a local store, made absolute', () => {
    expect(storePath('/data', 'models', 'v1')).toBe('/data/models/v1');
    expect(storePath('./data', 'x.txt')).toBe(resolve('data/x.txt'));
  });

  it('keeps everything inside the store', () => {
    expect(() => storePath('s3://b/runs', '../other')).toThrow(/must not contain "\.\."/);
    expect(() => storePath('/data', 'a/../../etc')).toThrow(InvalidUriError);
    expect(() => storePath('/data', '/etc/passwd')).toThrow(/must be a relative path/);
    expect(() => storePath('s3://b/runs', 's3://other/x')).toThrow(/must be a relative path/);
  });
});

describe('checkStore() (--store)', () => {
  it('accepts folders and S3 URIs with a bucket', () => {
    for (const store of ['./data', '/var/data', 's3://bucket', 's3://bucket/prefix/', 'file:///tmp/x']) expect(() => checkStore(store)).not.toThrow();
  });

  it('refuses an S3 URI without a bucket and other schemes, as usage errors', () => {
    for (const store of ['s3://', 's3:///prefix', 'gs://bucket/x', '']) {
      expect(() => checkStore(store)).toThrow(UsageError);
    }
    expect(() => checkStore('s3:///prefix')).toThrow('--store got "s3:///prefix": an S3 URI needs a bucket: s3://bucket/key. Expected a folder or s3://bucket/prefix.');
  });
});

describe('parseS3Uri()', () => {
  it('splits bucket and key, dropping repeated and trailing slashes', () => {
    expect(parseS3Uri('s3://b/a//b/')).toEqual({ bucket: 'b', key: 'a/b' });
    expect(parseS3Uri('S3://b')).toEqual({ bucket: 'b', key: '' });
  });
});

describe('createS3Client()', () => {
  it('reads the endpoint (the S3-specific variable first), the path-style switch and the region from the environment', async () => {
    const client = createS3Client({
      env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', DAGWRIGHT_S3_FORCE_PATH_STYLE: '1' },
    });
    const endpoint = await client.config.endpoint!();
    expect(`${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`).toBe('http://127.0.0.1:9000');
    expect(client.config.forcePathStyle).toBe(true);
    expect(await client.config.region()).toBe('us-east-1'); // an endpoint and no region: a default that S3-compatible servers accept
    client.destroy();

    const plain = createS3Client({ env: { AWS_REGION: 'eu-west-1' } });
    expect(plain.config.forcePathStyle).toBe(false);
    expect(plain.config.endpoint).toBeUndefined();
    expect(await plain.config.region()).toBe('eu-west-1');
    plain.destroy();

    const ignored = createS3Client({ env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true', AWS_REGION: 'eu-west-1' } });
    expect(ignored.config.endpoint).toBeUndefined();
    ignored.destroy();
  });

  it('refuses a path-style switch it cannot read', () => {
    expect(() => createS3Client({ env: { DAGWRIGHT_S3_FORCE_PATH_STYLE: 'maybe' } })).toThrow('DAGWRIGHT_S3_FORCE_PATH_STYLE got "maybe"; expected 1 or 0.');
  });
});
