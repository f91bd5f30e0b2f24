import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registryCli } from '../app/cli/registry';
import { contentHash, ModelRegistry, type ModelVersion, RegistryError } from '../tasks/registry/registry';

let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-registry-'));
});
afterEach(async () => {
  await rm(store, { recursive: true, force: true });
});

const files = (seed: string) => ({ 'model.json': Buffer.from(`{"model":"${seed}"}`), 'weights.bin': Buffer.from(seed.repeat(8)) });
const byAccuracy = { alias: 'champion', better: (a: ModelVersion, b: ModelVersion) => (a.metrics.testAccuracy as number) > (b.metrics.testAccuracy as number) };

function register(registry: ModelRegistry, seed: string, testAccuracy: number) {
  return registry.register({ files: files(seed), metrics: { testAccuracy }, lineage: { data: { increment: 1 } }, tags: { team: 'digits' }, promote: byAccuracy });
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await registryCli([...args, '--store', store, '--model', 'digits'], (t) => (out += t), (t) => (err += t));
  return { code, out, err };
}

describe('ModelRegistry', () => {
  it('numbers versions 1, 2, 3 and stores files, metrics, lineage and tags', async () => {
    const registry = new ModelRegistry(store, 'digits');
    expect(await registry.versions()).toEqual([]);
    const first = await register(registry, 'a', 0.9);
    const second = await register(registry, 'b', 0.8);
    expect([first.version.version, second.version.version]).toEqual([1, 2]);
    expect(first.created && second.created).toBe(true);
    const v1 = await registry.version(1);
    expect(v1).toMatchObject({ model: 'digits', version: 1, metrics: { testAccuracy: 0.9 }, lineage: { data: { increment: 1 } }, tags: { team: 'digits' } });
    expect(v1.contentSha256).toBe(contentHash(files('a')));
    expect((await registry.filesOf(1).list()).sort()).toEqual(['model.json', 'weights.bin']);
    expect(await registry.filesOf(1).file('weights.bin').readBytes()).toEqual(files('a')['weights.bin']);
    expect((await registry.versions()).map((v) => v.version)).toEqual([1, 2]);
  });

  it('gives champion to the first version and to a better one, not to a worse one', async () => {
    const registry = new ModelRegistry(store, 'digits');
    expect((await register(registry, 'a', 0.9)).promoted).toEqual(['champion']);
    expect((await register(registry, 'b', 0.95)).promoted).toEqual(['champion']);
    expect((await register(registry, 'c', 0.93)).promoted).toEqual([]);
    expect((await register(registry, 'd', 0.95)).promoted).toEqual([]); // a tie does not beat the champion
    expect(await registry.aliases()).toEqual({ champion: 2 });
    expect((await registry.resolve('champion')).version).toBe(2);
    const history = await registry.aliasHistory();
    expect(history.map((h) => [h.version, h.previous])).toEqual([
      [1, null],
      [2, 1],
    ]);
  });

  it('does not create a second version for the same content', async () => {
    const registry = new ModelRegistry(store, 'digits');
    const first = await register(registry, 'a', 0.9);
    const again = await register(registry, 'a', 0.99);
    expect(again.created).toBe(false);
    expect(again.version.version).toBe(first.version.version);
    expect(again.version.metrics).toEqual({ testAccuracy: 0.9 });
    expect(await readdir(join(store, 'registry/digits/versions'))).toEqual(['1.json']);
  });

  it('leaves no temporary files behind and rejects bad names and unknown references', async () => {
    const registry = new ModelRegistry(store, 'digits');
    await register(registry, 'a', 0.9);
    const names = await readdir(join(store, 'registry/digits'), { recursive: true });
    expect(names.filter((n) => n.includes('dagwright-tmp'))).toEqual([]);
    expect(() => new ModelRegistry(store, '../escape')).toThrow(RegistryError);
    await expect(registry.resolve('7')).rejects.toThrow('model "digits" has no version 7');
    await expect(registry.resolve('staging')).rejects.toThrow('has no alias "staging" (aliases: champion)');
    await expect(registry.setAlias('champion', 9, 'test')).rejects.toThrow('has no version 9');
  });
});

describe('registry CLI', () => {
  it('lists, shows by number and alias, moves an alias by hand and tags', async () => {
    const registry = new ModelRegistry(store, 'digits');
    await register(registry, 'a', 0.9);
    await register(registry, 'b', 0.95);

    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^version\s+created\s+test acc/);
    expect(list.out).toMatch(/\n2\s+\S+ \S+\s+0\.9500\s+1\s+-\s+champion\s+team=digits/);

    const shown = JSON.parse((await cli('show', 'champion')).out) as ModelVersion & { aliases: string[] };
    expect(shown.version).toBe(2);
    expect(shown.aliases).toEqual(['champion']);

    const moved = await cli('alias', 'champion', '1');
    expect(moved).toMatchObject({ code: 0, out: 'champion: 2 -> 1\n' });
    expect(await registry.aliases()).toEqual({ champion: 1 });
    expect((await registry.aliasHistory()).at(-1)).toMatchObject({ alias: 'champion', version: 1, previous: 2, reason: 'moved by hand' });

    expect((await cli('tag', '1', 'stage=prod')).code).toBe(0);
    expect((await registry.version(1)).tags).toEqual({ team: 'digits', stage: 'prod' });

    const json = JSON.parse((await cli('list', '--json')).out) as { aliases: Record<string, number>; versions: ModelVersion[] };
    expect(json.aliases).toEqual({ champion: 1 });
    expect(json.versions).toHaveLength(2);
  });

  it('exits 1 for an unknown version or alias and 2 for a bad command line', async () => {
    await register(new ModelRegistry(store, 'digits'), 'a', 0.9);
    expect(await cli('show', '5')).toMatchObject({ code: 1, err: expect.stringContaining('no version 5') });
    expect(await cli('show', 'staging')).toMatchObject({ code: 1, err: expect.stringContaining('no alias "staging"') });
    expect((await cli('alias', 'champion', 'x')).code).toBe(2);
    expect((await cli('alias', '3', '1')).code).toBe(2);
    expect((await cli('promote')).code).toBe(2);
    expect((await cli('list', '--bogus')).code).toBe(2);
  });
});
