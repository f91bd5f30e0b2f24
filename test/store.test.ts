import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { directoryTarget, storePath, target, UsageError } from '../src';
import { type DirectoryWriter, type FileSystem, LocalFileSystem, S3FileSystem, type WriteBody } from '../src/public/store';
import { parseStore } from '../src/store/store';
import { checkStore, registerScheme } from '../src/targets/uri';
import { lockDirForStore } from '../src/locks/state-dir';

/** A whole file system kept in memory: what a user's GCS or Azure file system looks like to dagwright. */
class MemoryFileSystem implements FileSystem {
  readonly files = new Map<string, Buffer>();
  async exists(path: string) {
    return this.files.has(path);
  }
  async read(path: string) {
    const body = this.files.get(path);
    if (!body) throw new Error(`${path}: no such object`);
    return body;
  }
  async readStream(path: string) {
    return Readable.from([await this.read(path)]);
  }
  async write(path: string, body: WriteBody) {
    const chunks: Buffer[] = [];
    if (typeof body === 'string' || body instanceof Uint8Array) chunks.push(Buffer.from(body));
    else for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
    this.files.set(path, Buffer.concat(chunks));
  }
  async writeIfAbsent(path: string, body: string | Uint8Array) {
    if (this.files.has(path)) return false;
    this.files.set(path, Buffer.from(body));
    return true;
  }
  async directoryExists(path: string) {
    return this.files.has(`${path}/_SUCCESS`);
  }
  async writeDirectory(path: string, fill: (dir: DirectoryWriter) => Promise<void>) {
    await fill({ write: (name, body) => this.write(`${path}/${name}`, body) });
    this.files.set(`${path}/_SUCCESS`, Buffer.alloc(0));
  }
  async listDirectory(path: string) {
    return [...this.files.keys()].filter((k) => k.startsWith(`${path}/`) && !k.endsWith('/_SUCCESS')).map((k) => k.slice(path.length + 1));
  }
  async remove(path: string) {
    for (const k of [...this.files.keys()]) if (k === path || k.startsWith(`${path}/`)) this.files.delete(k);
  }
  async list(path: string) {
    const names = new Map<string, 'file' | 'folder'>();
    for (const k of this.files.keys()) {
      if (!k.startsWith(`${path}/`) || k.endsWith('/_SUCCESS')) continue;
      const [first, ...rest] = k.slice(path.length + 1).split('/');
      names.set(first, rest.length > 0 ? 'folder' : 'file');
    }
    return [...names].map(([name, kind]) => ({ name, kind })).sort((a, b) => a.name.localeCompare(b.name));
  }
  async stamp(path: string) {
    const body = this.files.get(path);
    return body && `${body.length}:${body.toString('base64')}`;
  }
  async writtenAt(path: string) {
    return this.files.has(path) ? 0 : undefined;
  }
  localPath() {
    return undefined;
  }
  environment() {
    return [];
  }
  join(dir: string, name: string) {
    return `${dir}/${name}`;
  }
  parent(path: string) {
    return path.slice(0, path.lastIndexOf('/'));
  }
  relative(dir: string, path: string) {
    return path.slice(dir.length + 1);
  }
}

describe('parseStore (--store, parsed once)', () => {
  it('makes a local folder absolute and an s3 URI a remote store with the S3 file system', () => {
    const local = parseStore('./data');
    expect(local).toMatchObject({ uri: resolve('data'), scheme: 'file', local: true, path: resolve('data') });
    expect(local.fs).toBeInstanceOf(LocalFileSystem);
    const s3 = parseStore('s3://bucket/runs//');
    expect(s3).toMatchObject({ uri: 's3://bucket/runs', scheme: 's3', local: false, path: undefined });
    expect(s3.fs).toBeInstanceOf(S3FileSystem);
    expect(lockDirForStore(local)).toBe(join(resolve('data'), '.dagwright', 'locks'));
    expect(lockDirForStore(s3)).toBe(lockDirForStore('s3://bucket/runs'));
  });

  it('refuses a regular file, no bucket and an unknown scheme as usage errors naming the value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dagwright-store-'));
    const file = join(dir, 'plain.txt');
    await writeFile(file, 'x');
    expect(() => parseStore(file)).toThrow(UsageError);
    expect(() => parseStore(file)).toThrow(`--store ${file} is a file, not a folder`);
    expect(() => parseStore('s3:///x')).toThrow('--store got "s3:///x": an S3 URI needs a bucket');
    expect(() => parseStore('nope://x')).toThrow(/unsupported scheme "nope:\/\/"/);
  });
});

describe('registerScheme: a file system of its own without editing uri.ts', () => {
  const memory = new MemoryFileSystem();
  registerScheme({ scheme: 'mem', fileSystem: () => memory });

  it('serves target(), directoryTarget(), storePath() and --store for the scheme', async () => {
    expect(() => checkStore('mem://bucket/runs')).not.toThrow();
    const store = parseStore('mem://bucket/runs/');
    expect(store).toMatchObject({ uri: 'mem://bucket/runs', scheme: 'mem', local: false });
    expect(store.fs).toBe(memory);

    const file = target(storePath(store.uri, 'models', 'v1.json'));
    expect(file.uri).toBe('mem://bucket/runs/models/v1.json');
    expect(await file.exists()).toBe(false);
    await file.writeJson({ accuracy: 0.99 });
    expect(await target('mem://bucket/runs/models/v1.json').readJson()).toEqual({ accuracy: 0.99 });

    const dir = directoryTarget(storePath(store.uri, 'batch'));
    await dir.write(async (w) => w.write('a.bin', 'A'));
    expect(await dir.exists()).toBe(true);
    expect(await dir.list()).toEqual(['a.bin']);
    expect(() => storePath(store.uri, '../escape')).toThrow(/must not contain/);
  });

  it('refuses to register the file scheme or a malformed name', () => {
    expect(() => registerScheme({ scheme: 'file', fileSystem: () => memory })).toThrow(UsageError);
    expect(() => registerScheme({ scheme: 'bad name', fileSystem: () => memory })).toThrow(/cannot be registered/);
  });
});
