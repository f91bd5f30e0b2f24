import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UiServer } from '../app/ui/ui-server';
import { createLogger } from '../src/public/runtime';
import { type DirectoryWriter, type FileSystem, type FolderEntry, LocalFileSystem, type WriteBody } from '../src/public/store';
import { param, Task } from '../src';
import { runFlow } from '../src/flow/run-flow';
import { InvalidUriError } from '../src/errors';
import { registerScheme } from '../src/targets/uri';
import { ModelRegistry } from '../tasks/registry/registry';
import { type ModelServer, serveModel } from '../tasks/serving';
import { fileAt } from '../tasks/store';
import { call, testImages, uint8Request } from './fixtures/serve-client';
import { registerSeededModel } from './fixtures/serve-models';

/**
 * A cloud-like file system (GCS, Azure) as a user would add one: URIs of its
 * own scheme, `fake://bucket/key`, kept in a local folder but reached only
 * through the `FileSystem` interface (it says it is not on this machine's
 * disk). Registered here and nowhere else: no file of dagwright names it.
 */
class FakeCloudFileSystem implements FileSystem {
  private readonly disk = new LocalFileSystem();
  constructor(private readonly root: string) {}

  /** Where a `fake://` URI's object lives in the backing folder. */
  private at(uri: string): string {
    const match = /^fake:\/\/(.+)$/.exec(uri);
    if (!match) throw new InvalidUriError(uri, 'expected fake://bucket/key');
    return this.disk.join(this.root, match[1]);
  }

  exists = (uri: string) => this.disk.exists(this.at(uri));
  read = (uri: string) => this.disk.read(this.at(uri));
  readStream = (uri: string): Promise<Readable> => this.disk.readStream(this.at(uri));
  write = (uri: string, body: WriteBody) => this.disk.write(this.at(uri), body);
  writeIfAbsent = (uri: string, body: string | Uint8Array) => this.disk.writeIfAbsent(this.at(uri), body);
  directoryExists = (uri: string) => this.disk.directoryExists(this.at(uri));
  writeDirectory = (uri: string, fill: (dir: DirectoryWriter) => Promise<void>) => this.disk.writeDirectory(this.at(uri), fill);
  listDirectory = (uri: string) => this.disk.listDirectory(this.at(uri));
  list = (uri: string): Promise<FolderEntry[]> => this.disk.list(this.at(uri));
  stamp = (uri: string) => this.disk.stamp(this.at(uri));
  writtenAt = (uri: string) => this.disk.writtenAt(this.at(uri));
  remove = (uri: string) => this.disk.remove(this.at(uri));
  localPath = () => undefined;
  environment = () => [];

  join(dir: string, name: string): string {
    const inside = relative(this.at(dir), this.disk.join(this.at(dir), name)).split(sep).join('/');
    return `${dir.replace(/\/+$/, '')}/${inside}`;
  }

  parent(uri: string): string {
    return uri.slice(0, uri.lastIndexOf('/'));
  }

  relative(dir: string, uri: string): string {
    const prefix = `${dir.replace(/\/+$/, '')}/`;
    if (!uri.startsWith(prefix)) throw new InvalidUriError(uri, `is not inside ${dir}`);
    return uri.slice(prefix.length);
  }
}

class Greet extends Task<{ store: string; name: string }> {
  static override params = { store: param.string({ significant: false }), name: param.string() };
  override output() {
    return fileAt(this.params.store, 'greetings', `${this.params.name}.txt`);
  }
  async run() {
    await this.output().writeText(`hello ${this.params.name}\n`);
  }
}

async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a file system registered by a user (fake://, over a local folder)', () => {
  const store = 'fake://bucket/house';
  let ui: UiServer | undefined;
  let server: ModelServer | undefined;
  beforeAll(async () => {
    registerScheme({ scheme: 'fake', fileSystem: () => fs });
    process.env.DAGWRIGHT_STATE_DIR = await mkdtemp(join(tmpdir(), 'dagwright-fake-state-'));
  });
  let fs: FakeCloudFileSystem;
  beforeAll(async () => void (fs = new FakeCloudFileSystem(await mkdtemp(join(tmpdir(), 'dagwright-fake-')))));
  afterAll(async () => {
    await ui?.stop();
    await server?.stop();
  });

  it('runs a flow on --store fake://..., and lists its run in the UI (real HTTP)', async () => {
    const code = await runFlow(Greet, { argv: ['--store', store, '--name', 'ada', '--executor', 'inprocess', '--log-level', 'warn'], exit: false });
    expect(code).toBe(0);
    expect((await fs.read(`${store}/greetings/ada.txt`)).toString()).toBe('hello ada\n');
    const runs = await fs.list(`${store}/_runs`);
    expect(runs).toHaveLength(1);
    const runId = runs[0].name.replace(/\.json$/, '');

    ui = new UiServer({ store, port: 0, readOnly: true });
    await ui.start();
    const listing = await fetch(`${ui.url}/`);
    expect(listing.status).toBe(200);
    const text = await listing.text();
    expect(text).toContain(runId);
    expect(text).toContain('Greet');
  }, 60_000);

  it('serves the champion and swaps when the alias moves (the alias watcher polls the change stamp)', async () => {
    await registerSeededModel(store, 'mnist-digits', 21, 'champion');
    await registerSeededModel(store, 'mnist-digits', 22);
    server = await serveModel({ store, port: 0, logger: createLogger({ level: 'silent' }), pollMs: 200, predictionLog: false });
    const image = testImages(1, 7);
    const servedVersion = async () => (await call(`${server!.url}/v2/models/mnist-digits/infer`, { body: uint8Request(image) })).body.model_version as string;
    expect(await servedVersion()).toBe('1');
    await new ModelRegistry(store, 'mnist-digits').setAlias('champion', 2, 'fake:// swap');
    await until(async () => (await servedVersion()) === '2', 'the server to serve version 2');
  }, 60_000);
});
