/**
 * Copying and moving targets on real storage: local disk, a second local
 * file system (tmpfs at /dev/shm, so rename() cannot cross), and S3 on the
 * suite's s3rver; and a task that publishes with a move inside a real run.
 */
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { copyTarget, LocalDirectoryTarget, LocalTarget, moveTarget, param, run, S3DirectoryTarget, S3Target, Task, TargetTransferError } from '../src';
import { createLogger } from '../src/public/runtime';
import { freshBucket, s3TestClient, s3TestFileSystem } from './helpers/s3';

const logger = createLogger({ level: 'silent' });
const s3 = s3TestFileSystem();
let bucket: string;
let dir: string;
beforeAll(async () => {
  bucket = await freshBucket(s3TestClient(), 'transfer');
  dir = await mkdtemp(join(tmpdir(), 'dagwright-transfer-'));
});

describe('copy and move on local disk', () => {
  it('copies a file (the source stays) and moves it with a rename (the same inode, the source gone)', async () => {
    const source = new LocalTarget(join(dir, 'a', 'source.csv'));
    await source.writeText('x,y\n1,2\n');
    const copy = new LocalTarget(join(dir, 'b', 'copy.csv'));
    await copyTarget(source, copy);
    expect(await copy.readText()).toBe('x,y\n1,2\n');
    expect(await source.exists()).toBe(true);
    const inode = (await stat(source.path)).ino;
    const moved = new LocalTarget(join(dir, 'c', 'moved.csv'));
    await moveTarget(source, moved);
    expect(await source.exists()).toBe(false);
    expect((await stat(moved.path)).ino).toBe(inode);
  });

  it('moves across local file systems (rename cannot): a whole copy, then the source removed', async (ctx) => {
    const shm = await mkdtemp('/dev/shm/dagwright-transfer-').catch(() => undefined);
    if (shm === undefined || (await stat(shm)).dev === (await stat(dir)).dev) {
      ctx.skip('no second local file system at /dev/shm: cannot test a move across devices');
      return;
    }
    const source = new LocalTarget(join(dir, 'big.bin'));
    const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
    await source.writeBytes(bytes);
    const there = new LocalTarget(join(shm, 'nested', 'big.bin'));
    await moveTarget(source, there);
    expect(await source.exists()).toBe(false);
    expect((await there.readBytes()).equals(bytes)).toBe(true);
  });

  it('refuses a missing source, a file to a directory, and a target onto itself, writing nothing', async () => {
    const missing = new LocalTarget(join(dir, 'nothing.csv'));
    const to = new LocalTarget(join(dir, 'never.csv'));
    await expect(moveTarget(missing, to)).rejects.toThrow(TargetTransferError);
    await expect(copyTarget(missing, to)).rejects.toThrow(/cannot copy .*nothing\.csv: it does not exist/);
    const file = new LocalTarget(join(dir, 'one.csv'));
    await file.writeText('1');
    await expect(copyTarget(file, new LocalDirectoryTarget(join(dir, 'folder')))).rejects.toThrow(/one is a directory target and the other a file target/);
    await expect(moveTarget(file, new LocalTarget(join(dir, 'one.csv')))).rejects.toThrow(/onto itself/);
    expect(await to.exists()).toBe(false);
    expect(await file.readText()).toBe('1');
  });
});

describe('copy and move with S3', () => {
  it('local file to S3 and back, and a directory from S3 to local disk', async () => {
    const local = new LocalTarget(join(dir, 'upload.json'));
    await local.writeJson({ rows: 3 });
    const remote = new S3Target(`s3://${bucket}/in/upload.json`, s3);
    await moveTarget(local, remote);
    expect(await local.exists()).toBe(false);
    expect(JSON.parse(await remote.readText())).toEqual({ rows: 3 });
    const back = new LocalTarget(join(dir, 'back', 'upload.json'));
    await copyTarget(remote, back);
    expect(JSON.parse(await back.readText())).toEqual({ rows: 3 });

    const model = new S3DirectoryTarget(`s3://${bucket}/models/v1`, s3);
    await model.write(async (d) => {
      await d.write('model.json', '{"layers": 2}');
      await d.write('weights/part-0.bin', Buffer.from([1, 2, 3]));
    });
    const copied = new LocalDirectoryTarget(join(dir, 'models', 'v1'));
    await copyTarget(model, copied);
    expect(await copied.list()).toEqual(['model.json', 'weights/part-0.bin']);
    expect(await readFile(join(copied.path, 'weights', 'part-0.bin'))).toEqual(Buffer.from([1, 2, 3]));
    const moved = new S3DirectoryTarget(`s3://${bucket}/models/v2`, s3);
    await moveTarget(model, moved);
    expect(await model.exists()).toBe(false);
    expect(await moved.list()).toEqual(['model.json', 'weights/part-0.bin']);
  });

  it('a task publishes its staged file to S3 with a move inside a run', async () => {
    const staged = join(dir, 'staged.csv');
    await writeFile(staged, 'day,total\n2026-03-01,42\n');
    class Publish extends Task<{ staged: string; bucket: string }> {
      static override params = { staged: param.string(), bucket: param.string() };
      override output() {
        return new S3Target(`s3://${this.params.bucket}/published/totals.csv`, s3);
      }
      async run() {
        await moveTarget(new LocalTarget(this.params.staged), this.output());
      }
    }
    const summary = await run(new Publish({ staged, bucket }), { logger });
    expect(summary.ok).toBe(true);
    expect(await new S3Target(`s3://${bucket}/published/totals.csv`, s3).readText()).toBe('day,total\n2026-03-01,42\n');
    await expect(stat(staged)).rejects.toThrow(/ENOENT/);
  });
});
