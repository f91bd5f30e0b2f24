/**
 * The model registry under races and damage: concurrent registrations get
 * distinct versions and lose none (in one process, and two register flows
 * at once on an s3:// store); a damaged aliases.json or version record is
 * reported by name with how to repair it, with no stack trace, and the
 * register task finishes its alias decision on the run after the repair.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelVersion, RegistryFileError } from '../tasks/registry/registry';
import { registryCli } from '../app/cli/registry';
import { dagwright } from './helpers/cron';
import { runFlowProcess } from './helpers/flow-process';
import { freshBucket, s3FlowEnv, s3TestClient } from './helpers/s3';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-safety-registry-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const files = (seed: string) => ({ 'model.json': Buffer.from(`{"model":"${seed}"}`), 'weights.bin': Buffer.from(seed.repeat(16)) });
const byAccuracy = { alias: 'champion', better: (a: ModelVersion, b: ModelVersion) => (a.metrics.testAccuracy as number) > (b.metrics.testAccuracy as number) };
const register = (registry: ModelRegistry, seed: string, testAccuracy: number) =>
  registry.register({ files: files(seed), metrics: { testAccuracy }, lineage: {}, promote: byAccuracy });

/** Small MNIST runs: 1,000 images, one epoch. */
const small = ['--increment', '1', '--increment-size', '1000', '--epochs', '1', '--batch-size', '64', '--executor', 'inprocess', '--log-level', 'warn'];
const stackLine = /^\s+at .+\(.*:\d+:\d+\)$/m;

describe('concurrent registrations', () => {
  it('two register() calls at once in one process get versions 1 and 2; twelve more lose none', async () => {
    const store = await mkdtemp(join(dir, 'local-'));
    const registry = new ModelRegistry(store, 'digits');
    const [a, b] = await Promise.all([register(registry, 'a', 0.9), register(registry, 'b', 0.95)]);
    expect([a.version.version, b.version.version].sort()).toEqual([1, 2]);
    expect(a.created && b.created).toBe(true);

    const more = await Promise.all(Array.from({ length: 12 }, (_, i) => register(new ModelRegistry(store, 'digits'), `m${i}`, 0.5 + i / 100)));
    const numbers = [a, b, ...more].map((r) => r.version.version).sort((x, y) => x - y);
    expect(numbers).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    const stored = await registry.versions();
    expect(stored.map((v) => v.contentSha256).sort()).toEqual([a, b, ...more].map((r) => r.version.contentSha256).sort());
    // Every decision is recorded, and champion is the best of all: 0.95.
    expect(await registry.aliases()).toEqual({ champion: b.version.version });
    for (const v of stored) expect(await registry.aliasDecided('champion', v.version)).toBe(true);
  });

  it('six register() calls at once on an s3:// store in one process get versions 1 to 6', async () => {
    const bucket = await freshBucket(s3TestClient(), 'safety-registry');
    Object.assign(process.env, s3FlowEnv(join(dir, 'state-inprocess'))); // the shared S3 client is made from these on first use
    const registry = new ModelRegistry(`s3://${bucket}/runs`, 'digits');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => register(registry, `s3-${i}`, 0.8 + i / 100)));
    expect(results.map((r) => r.version.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await registry.versions()).map((v) => v.contentSha256).sort()).toEqual(results.map((r) => r.version.contentSha256).sort());
    expect(await registry.aliases()).toEqual({ champion: results[5].version.version });
  });

  it('two flows/register.ts processes with different seeds on an s3:// store keep both models as versions 1 and 2', async () => {
    const bucket = await freshBucket(s3TestClient(), 'safety-registry');
    const store = `s3://${bucket}/runs`;
    const env = s3FlowEnv(join(dir, 'state'));
    const [one, two] = await Promise.all(
      ['1', '2'].map((seed) => runFlowProcess('flows/register.ts', [...small, '--seed', seed, '--store', store], env)),
    );
    expect([one.code, two.code], one.stderr + two.stderr).toEqual([0, 0]);
    const listed = await runFlowProcess('app/cli/registry.ts', ['list', '--json', '--store', store], env);
    const { versions } = JSON.parse(listed.stdout) as { versions: ModelVersion[] };
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(new Set(versions.map((v) => (v.lineage.training as { params: { seed: number } }).params.seed))).toEqual(new Set([1, 2]));
  }, 600_000);
});

describe('damaged registry files', () => {
  it('a cut-short aliases.json: named with its repair, exit 1 and no stack trace from `dagwright registry list`; a version record likewise', async () => {
    const store = await mkdtemp(join(dir, 'damaged-'));
    const registry = new ModelRegistry(store, 'digits');
    await register(registry, 'a', 0.9);
    const aliases = join(store, 'registry/digits/aliases.json');
    const text = await readFile(aliases, 'utf8');
    await writeFile(aliases, text.slice(0, text.length / 2));

    await expect(registry.aliases()).rejects.toThrow(RegistryFileError);
    const listed = await dagwright(['registry', 'list', '--store', store, '--model', 'digits']);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain(`registry file ${aliases} is damaged`);
    expect(listed.stderr).toContain('Move it aside');
    expect(listed.stderr).not.toMatch(stackLine);
    // A registration stops at the alias decision, naming the file; its version is kept.
    await expect(register(registry, 'b', 0.95)).rejects.toThrow(`registry file ${aliases} is damaged`);
    expect((await registry.versions()).map((v) => v.version)).toEqual([1, 2]);

    await writeFile(join(store, 'registry/digits/versions/1.json'), '{"version": 1');
    let out = '';
    let err = '';
    expect(await registryCli(['show', '1', '--store', store, '--model', 'digits'], (t) => (out += t), (t) => (err += t))).toBe(1);
    expect(err).toContain(`registry file ${join(store, 'registry/digits/versions/1.json')} is damaged (not JSON`);
    expect(err).toContain('run the flow that registered version 1 again');
  });

  it('flows/register.ts with a damaged aliases.json fails naming it; once it is moved aside, the re-run records the decision', async () => {
    const store = await mkdtemp(join(dir, 'flow-'));
    const first = await runFlowProcess('flows/register.ts', [...small, '--seed', '1', '--store', store]);
    expect(first.code, first.stderr).toBe(0);
    const aliases = join(store, 'registry/mnist-digits/aliases.json');
    await writeFile(aliases, '{"aliases": {"champion": 1}, "hist');

    const broken = await runFlowProcess('flows/register.ts', [...small, '--seed', '2', '--store', store]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`registry file ${aliases} is damaged`);
    expect(broken.stderr).not.toMatch(stackLine);
    // Running again changes nothing while the file is damaged: still not complete, still named.
    const again = await runFlowProcess('flows/register.ts', [...small, '--seed', '2', '--store', store]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`registry file ${aliases} is damaged`);

    await rename(aliases, `${aliases}.damaged`);
    const repaired = await runFlowProcess('flows/register.ts', [...small, '--seed', '2', '--store', store]);
    expect(repaired.code, repaired.stderr).toBe(0);
    const registry = new ModelRegistry(store, 'mnist-digits');
    expect((await registry.versions()).map((v) => v.version)).toEqual([1, 2]);
    expect(await registry.aliasDecided('champion', 2)).toBe(true);
    expect(await registry.aliases()).toEqual({ champion: 2 }); // the aliases started empty: the first decided version takes it
    const noop = await runFlowProcess('flows/register.ts', [...small, '--seed', '2', '--store', store]);
    expect(noop.code).toBe(0);
    expect(noop.logs.some((l) => l.msg === 'task started')).toBe(false);
  }, 600_000);
});
