import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, InvalidUriError } from '../src/public/errors';
import { S3DirectoryTarget, S3Target } from '../src';
import { type S3FileSystem } from '../src/public/store';
import { runWithSignal } from '../src/cancellation';
import { freshBucket, openUploads, s3TestClient, s3TestFileSystem } from './helpers/s3';

const MiB = 1024 * 1024;

let client: S3Client;
let fs: S3FileSystem;
let bucket: string;
/** Names of the commands `client` sent, in order. */
let sent: string[];

beforeAll(async () => {
  client = s3TestClient();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName as string);
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  sent = [];
  fs = s3TestFileSystem({ partSize: 5 * MiB }, client);
  bucket = await freshBucket(client, 'targets');
});

const uri = (key: string) => `s3://${bucket}/${key}`;

async function objectExists(key: string): Promise<boolean> {
  return client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    (err: { $metadata?: { httpStatusCode?: number } }) => {
      if (err.$metadata?.httpStatusCode === 404) return false;
      throw err;
    },
  );
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** `size` bytes of a repeatable pattern, in 1 MiB chunks; then, if `failWith`, an error. */
async function* bytes(size: number, failWith?: Error): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < size; done += MiB) {
    const chunk = Buffer.alloc(Math.min(MiB, size - done), done / MiB);
    yield chunk;
  }
  if (failWith) throw failWith;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('S3Target', () => {
  it('round-trips text, JSON and bytes, and exists() turns true only after the write', async () => {
    const text = new S3Target(uri('round/text.txt'), fs);
    expect(await text.exists()).toBe(false);
    await text.writeText('héllo\n');
    expect(await text.exists()).toBe(true);
    expect(await text.readText()).toBe('héllo\n');

    const json = new S3Target(uri('round/value.json'), fs);
    await json.writeJson({ a: 1, b: [true, null] });
    expect(await json.readJson()).toEqual({ a: 1, b: [true, null] });

    const bin = new S3Target(uri('round/bytes.bin'), fs);
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i % 256);
    await bin.writeBytes(data);
    expect(Buffer.compare(await bin.readBytes(), Buffer.from(data))).toBe(0);
    expect(bin.uri).toBe(uri('round/bytes.bin'));
    expect(String(bin)).toBe(uri('round/bytes.bin'));
  });

  it('writes and reads streams: a Readable and an async iterable, shorter than a part (one PUT)', async () => {
    const target = new S3Target(uri('round/stream.txt'), fs);
    await target.write(Readable.from([Buffer.from('line 1\n'), Buffer.from('line 2\n')]));
    expect((await collect(await target.readStream())).toString()).toBe('line 1\nline 2\n');

    const iterable = new S3Target(uri('round/iterable.bin'), fs);
    await iterable.write(bytes(3 * 1024));
    expect((await iterable.readBytes()).length).toBe(3 * 1024);
  });

  it('uploads a stream above the part size as a multipart upload, byte for byte', async () => {
    const target = new S3Target(uri('big/eleven-mib.bin'), fs);
    sent = [];
    await target.write(bytes(11 * MiB));
    expect(sent.filter((c) => c === 'UploadPartCommand')).toHaveLength(3);
    expect(sent).toContain('CreateMultipartUploadCommand');
    expect(sent).toContain('CompleteMultipartUploadCommand');
    const read = await collect(await target.readStream());
    expect(read.length).toBe(11 * MiB);
    const expected: Uint8Array[] = [];
    for await (const chunk of bytes(11 * MiB)) expected.push(chunk);
    expect(sha256(read)).toBe(sha256(Buffer.concat(expected)));
    expect(await openUploads(client, bucket)).toEqual([]);
  });

  it('a stream that fails midway (after a part was uploaded) leaves no object and no multipart upload', async () => {
    const target = new S3Target(uri('failed/midway.bin'), fs);
    const boom = new Error('source broke after 6 MiB');
    sent = [];
    await expect(target.write(bytes(6 * MiB, boom))).rejects.toBe(boom);
    expect(sent).toContain('UploadPartCommand');
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
    expect(await target.exists()).toBe(false);
    expect(await openUploads(client, bucket)).toEqual([]);
  });

  it('a short stream that fails sends nothing at all', async () => {
    const target = new S3Target(uri('failed/short.txt'), fs);
    const boom = new Error('source broke early');
    sent = [];
    const source = new Readable({ read() {} });
    source.push('partial data');
    setTimeout(() => source.destroy(boom), 10);
    await expect(target.write(source)).rejects.toBe(boom);
    expect(sent.filter((c) => c !== 'HeadObjectCommand')).toEqual([]);
    expect(await objectExists('failed/short.txt')).toBe(false);
  });

  it('an attempt cancelled while streaming publishes nothing and aborts its upload', async () => {
    const target = new S3Target(uri('cancelled/stream.bin'), fs);
    const controller = new AbortController();
    async function* thenCancel() {
      yield* bytes(6 * MiB);
      controller.abort(); // the task was cancelled while its writer was still going
      yield Buffer.from('tail');
    }
    sent = [];
    await expect(runWithSignal(controller.signal, () => target.write(thenCancel()))).rejects.toBeInstanceOf(CancelledError);
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(await target.exists()).toBe(false);
    expect(await openUploads(client, bucket)).toEqual([]);

    const small = new S3Target(uri('cancelled/small.txt'), fs);
    await expect(runWithSignal(AbortSignal.abort(), () => small.writeText('late'))).rejects.toBeInstanceOf(CancelledError);
    await expect(runWithSignal(AbortSignal.abort(), () => small.write(Readable.from(['late'])))).rejects.toBeInstanceOf(CancelledError);
    expect(await small.exists()).toBe(false);
  });

  it('remove() deletes the object; removing an absent one is fine', async () => {
    const target = new S3Target(uri('remove/me.txt'), fs);
    await target.writeText('x');
    await target.remove();
    expect(await target.exists()).toBe(false);
    await target.remove();
  });

  it('normalises the URI and refuses one without a key', () => {
    expect(new S3Target(`s3://${bucket}//a//b/`, fs).uri).toBe(uri('a/b'));
    expect(() => new S3Target(`s3://${bucket}`, fs)).toThrow(InvalidUriError);
    expect(() => new S3Target('s3:///key', fs)).toThrow(/needs a bucket/);
  });
});

describe('S3DirectoryTarget', () => {
  it('is visible only once the _SUCCESS marker is written last; list() leaves the marker out', async () => {
    const dir = new S3DirectoryTarget(uri('models/v1'), fs);
    expect(await dir.exists()).toBe(false);
    await dir.write(async (files) => {
      await files.write('weights.bin', Buffer.alloc(2048, 7));
      await files.write('meta/model.json', '{"layers":3}');
      expect(await dir.exists()).toBe(false);
      expect(await objectExists('models/v1/_SUCCESS')).toBe(false);
      await files.write('stream.txt', Readable.from(['a', 'b']));
    });
    expect(await dir.exists()).toBe(true);
    expect(await objectExists('models/v1/_SUCCESS')).toBe(true);
    expect(await dir.list()).toEqual(['meta/model.json', 'stream.txt', 'weights.bin']);
    expect(await dir.file('meta/model.json').readJson()).toEqual({ layers: 3 });
    expect(dir.file('stream.txt').uri).toBe(uri('models/v1/stream.txt'));
  });

  it('a failing fill writes no marker and removes what it wrote', async () => {
    const dir = new S3DirectoryTarget(uri('models/broken'), fs);
    const boom = new Error('training diverged');
    await expect(
      dir.write(async (files) => {
        await files.write('half.bin', Buffer.alloc(10));
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await dir.exists()).toBe(false);
    expect(await objectExists('models/broken/_SUCCESS')).toBe(false);
    expect(await dir.list()).toEqual([]);
  });

  it('a cancelled fill writes no marker', async () => {
    const dir = new S3DirectoryTarget(uri('models/cancelled'), fs);
    const controller = new AbortController();
    const writing = runWithSignal(controller.signal, () =>
      dir.write(async (files) => {
        await files.write('a.txt', 'a');
        controller.abort();
      }),
    );
    await expect(writing).rejects.toBeInstanceOf(CancelledError);
    expect(await dir.exists()).toBe(false);
  });

  it('publishing again replaces the old files; remove() takes the marker and every file', async () => {
    const dir = new S3DirectoryTarget(uri('models/v2'), fs);
    await dir.write(async (files) => {
      await files.write('old-1.txt', '1');
      await files.write('old-2.txt', '2');
    });
    await dir.write(async (files) => {
      await files.write('new.txt', 'n');
    });
    expect(await dir.list()).toEqual(['new.txt']);
    await dir.remove();
    expect(await dir.exists()).toBe(false);
    expect(await dir.list()).toEqual([]);
  });

  it('refuses file names that are the marker or leave the directory', async () => {
    const dir = new S3DirectoryTarget(uri('models/names'), fs);
    await expect(dir.write((files) => files.write('_SUCCESS', 'x'))).rejects.toThrow(/reserved for the marker/);
    await expect(dir.write((files) => files.write('../escape.txt', 'x'))).rejects.toThrow(InvalidUriError);
    expect(() => dir.file('../../other')).toThrow(InvalidUriError);
    expect(await objectExists('models/escape.txt')).toBe(false);
  });

  it('streamed file contents come back through GetObject unchanged', async () => {
    const dir = new S3DirectoryTarget(uri('models/v3'), fs);
    await dir.write((files) => files.write('data.bin', bytes(2 * MiB)));
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'models/v3/data.bin' }));
    expect((await object.Body!.transformToByteArray()).length).toBe(2 * MiB);
  });
});
