import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryTarget, LocalTarget } from '../src';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-targets-'));
});

async function* failingStream() {
  yield Buffer.from('first chunk\n');
  throw new Error('source broke');
}

describe('LocalTarget', () => {
  it('round-trips text, JSON, bytes and streams, creating parent folders', async () => {
    const text = new LocalTarget(join(dir, 'a/b/text.txt'));
    expect(await text.exists()).toBe(false);
    await text.writeText('hello\n');
    expect(await text.exists()).toBe(true);
    expect(await text.readText()).toBe('hello\n');

    const json = new LocalTarget(join(dir, 'value.json'));
    await json.writeJson({ n: 1, list: [1, 2] });
    expect(await json.readJson()).toEqual({ n: 1, list: [1, 2] });

    const bytes = new LocalTarget(join(dir, 'bytes.bin'));
    await bytes.writeBytes(new Uint8Array([0, 1, 255]));
    expect([...(await bytes.readBytes())]).toEqual([0, 1, 255]);

    const streamed = new LocalTarget(join(dir, 'stream.txt'));
    await streamed.write(Readable.from(['x', 'y', 'z']));
    const chunks: Buffer[] = [];
    for await (const chunk of await streamed.readStream()) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('xyz');
  });

  it('publishes nothing when a stream fails halfway, and leaves no temporary file', async () => {
    const target = new LocalTarget(join(dir, 'out.txt'));
    await expect(target.write(failingStream())).rejects.toThrow('source broke');
    expect(await target.exists()).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it('replaces an existing file atomically', async () => {
    const target = new LocalTarget(join(dir, 'out.txt'));
    await target.writeText('old');
    await expect(target.write(failingStream())).rejects.toThrow();
    expect(await target.readText()).toBe('old');
    await target.writeText('new');
    expect(await readFile(target.path, 'utf8')).toBe('new');
  });

  it('writeIfAbsent: of twenty racing writers exactly one wins, and an existing file is never replaced', async () => {
    const target = new LocalTarget(join(dir, 'claims/1'));
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => new LocalTarget(target.path).writeIfAbsent(`writer ${i}\n`)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await target.readText()).toBe(`writer ${wins.indexOf(true)}\n`);
    expect(await target.writeIfAbsent('late\n')).toBe(false);
    expect(await readdir(join(dir, 'claims'))).toEqual(['1']);
  });
});

describe('LocalDirectoryTarget', () => {
  it('makes all files visible together when the writer finishes', async () => {
    const model = new LocalDirectoryTarget(join(dir, 'models/v1'));
    await model.write(async (files) => {
      await files.write('model.json', '{"format":"layers-model"}');
      expect(await model.exists()).toBe(false);
      await files.write('weights/group1.bin', new Uint8Array([1, 2, 3]));
    });
    expect(await model.exists()).toBe(true);
    expect(await model.list()).toEqual(['model.json', 'weights/group1.bin']);
    expect(await model.file('model.json').readJson()).toEqual({ format: 'layers-model' });
  });

  it('publishes nothing when the writer fails, and cleans up its temporary folder', async () => {
    const model = new LocalDirectoryTarget(join(dir, 'models/v1'));
    await expect(
      model.write(async (files) => {
        await files.write('model.json', '{}');
        throw new Error('training diverged');
      }),
    ).rejects.toThrow('training diverged');
    expect(await model.exists()).toBe(false);
    expect(await readdir(join(dir, 'models'))).toEqual([]);
  });

  it('refuses names that escape the directory', async () => {
    const model = new LocalDirectoryTarget(join(dir, 'm'));
    await expect(model.write((files) => files.write('../evil.txt', 'x'))).rejects.toThrow('escapes the directory');
    expect(await readdir(dir)).toEqual([]);
  });
});
