/**
 * One promotion contract decides champion for every path: the register
 * flow, drift retraining, `dagwright registry alias champion` and the
 * registry API. Real MNIST and optdigits, real TF.js training on small
 * slices, in process on a local store; the tests run in order and build on
 * the registry the previous left.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runFlow } from '../src';
import { createLogger } from '../src/public/runtime';
import { registerFlow } from '../flows/register';
import { registryCli } from '../app/cli/registry';
import { writeLabelledBatch } from '../tasks/data/labelled-batch';
import { sampleImages } from '../tasks/drift/sources/image-batch';
import { readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { RegisterRetrained } from '../tasks/mnist/retrain-task';
import { imageSourceScorer } from '../tasks/drift/source-scorer';
import { ModelRegistry, RegistryError } from '../tasks/registry/registry';
import { currentContract } from '../tasks/registry/promotion-contract';
import { promoteVersion } from '../tasks/registry/promotion';

let store: string;
const quiet = createLogger({ level: 'silent' });
const registry = () => new ModelRegistry(store, 'mnist-digits');
const small = { incrementSize: 3000, epochs: 2, batchSize: 32 };
const contract = {
  sources: [
    { source: 'mnist-test', weight: 0.5, maxDropPoints: 5 },
    { source: 'optdigits:heldout', weight: 0.5, maxDropPoints: 2 },
  ],
  metric: 'accuracy',
  minMargin: 0.002,
  reason: 'optdigits traffic counts as much as MNIST',
};

function cli(args: string[]) {
  let out = '';
  let err = '';
  return registryCli(['--store', store, ...args], (t) => void (out += t), (t) => void (err += t)).then((code) => ({ code, out, err }));
}

function registerArgv(increment: number): string[] {
  return ['--increment', String(increment), '--increment-size', String(small.incrementSize), '--epochs', String(small.epochs), '--batch-size', String(small.batchSize), '--store', store, '--executor', 'inprocess', '--log-level', 'warn'];
}

const lastDecision = async () => (await registry().aliasDecisions()).at(-1)!;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-promotion-'));
  const { labelled } = await readOptdigitsSplit();
  const sample = sampleImages(labelled, 400, 3);
  await writeLabelledBatch(store, 'optdigits-labelled', { pixels: sample.pixels, labels: sample.labels!, source: 'optdigits:labelled (own labels)' });
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

describe('one promotion contract for every path', { timeout: 900_000 }, () => {
  it('without a contract the register flow keeps its rule (stored test accuracy) and says so', async () => {
    expect(await runFlow(registerFlow, { argv: registerArgv(1), exit: false })).toBe(0);
    expect(await registry().aliases()).toEqual({ champion: 1 });
    const decision = await lastDecision();
    expect(decision.evidence?.rule).toBe('no-contract:stored-test-accuracy');
    expect(decision.reason).toContain('no promotion contract declared');
    const shown = await cli(['contract']);
    expect(shown).toMatchObject({ code: 0 });
    expect(shown.out).toContain('has no promotion contract');
  });

  it('declares a contract from a file; a bad one is refused (exit 2) and writes nothing', async () => {
    const bad = join(store, 'bad-contract.json');
    await writeFile(bad, JSON.stringify({ ...contract, metric: 'precision' }));
    const refused = await cli(['contract', 'set', bad]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('"metric" must be "accuracy" or "macro-f1"');
    expect(await currentContract(registry())).toBeNull();
    const good = join(store, 'contract.json');
    await writeFile(good, JSON.stringify(contract));
    expect((await cli(['contract', 'set', good])).code).toBe(0);
    expect(await currentContract(registry())).toMatchObject({ version: 1, metric: 'accuracy', minMargin: 0.002, sources: contract.sources });
  });

  it('drift retraining with labelled optdigits wins under the contract, both versions scored per source', async () => {
    const retrain = new RegisterRetrained({ store, increment: 1, ...small, labelBatches: 'optdigits-labelled', oversample: 5 });
    expect((await run(retrain, { logger: quiet })).ok).toBe(true);
    expect(await registry().aliases()).toEqual({ champion: 2 });
    const { evidence, reason } = await lastDecision();
    expect(evidence).toMatchObject({ rule: 'contract', contractVersion: 1, candidate: { version: 2 }, champion: { version: 1 }, minMargin: 0.002 });
    expect(Object.keys(evidence!.candidate!.sources)).toEqual(['mnist-test', 'optdigits:heldout']);
    expect(evidence!.candidate!.counts['mnist-test']).toBe(10_000);
    expect(evidence!.candidate!.sources['optdigits:heldout']).toBeGreaterThan(evidence!.champion!.sources['optdigits:heldout'] + 0.05);
    expect(evidence!.margin).toBeCloseTo(evidence!.candidate!.score - evidence!.champion!.score, 12);
    expect(reason).toContain('under contract v1');
    const change = (await registry().aliasHistory()).at(-1)!;
    expect(change).toMatchObject({ version: 2, previous: 1, evidence: { contractVersion: 1 } });
  });

  it('a routine register on the next MNIST increment cannot undo the drift fix', async () => {
    expect(await runFlow(registerFlow, { argv: registerArgv(2), exit: false })).toBe(0);
    expect((await registry().versions()).map((v) => v.version)).toEqual([1, 2, 3]);
    expect(await registry().aliases()).toEqual({ champion: 2 });
    const { promoted, evidence, reason } = await lastDecision();
    expect(promoted).toBe(false);
    expect(evidence).toMatchObject({ rule: 'contract', contractVersion: 1, candidate: { version: 3 }, champion: { version: 2 } });
    const optdigits = evidence!.guardRails.find((g) => g.source === 'optdigits:heldout')!;
    expect(optdigits.held).toBe(false);
    expect(reason).toContain('optdigits:heldout falls');
  });

  it('the CLI and the API decide identically, record the refusal, and a bypass is refused', async () => {
    const flowDecision = await lastDecision();
    const byCli = await cli(['alias', 'champion', '3']);
    expect(byCli.code).toBe(1);
    expect(byCli.err).toContain('champion stays at version 2');
    const cliDecision = await lastDecision();
    const byApi = await promoteVersion(registry(), 3, { scorer: imageSourceScorer() });
    expect(byApi.moved).toBe(false);
    for (const decision of [cliDecision.evidence, byApi.verdict.evidence]) expect(decision).toEqual(flowDecision.evidence);
    expect(await registry().aliases()).toEqual({ champion: 2 });
    await expect(registry().setAlias('champion', 3, 'sneaking')).rejects.toMatchObject({ kind: 'refused' });
    await expect(registry().setAlias('champion', 3, 'sneaking')).rejects.toBeInstanceOf(RegistryError);
    const bypass = registry().register({ files: { 'model.json': new Uint8Array([1]) }, metrics: {}, lineage: {}, promote: { alias: 'champion', better: () => true } });
    await expect(bypass).rejects.toMatchObject({ kind: 'refused' });
    expect((await registry().versions()).length).toBe(3);
  });

  it('--force moves it anyway, and registry history shows why every move happened or did not', async () => {
    const forced = await cli(['alias', 'champion', '3', '--force']);
    expect(forced.code).toBe(0);
    expect(await registry().aliases()).toEqual({ champion: 3 });
    const history = await cli(['history']);
    expect(history.code).toBe(0);
    expect(history.out).toContain('contract v1 declared');
    expect(history.out).toMatch(/champion: stays 2 \(version 3 refused\)/);
    expect(history.out).toMatch(/optdigits:heldout: candidate v3 [\d.]+%, champion v2 [\d.]+% .*guard rail BROKEN/);
    expect(history.out).toContain('forced by hand');
    expect(history.out).toContain("no promotion contract declared (today's rule: stored MNIST test accuracy alone)");
    const json = JSON.parse((await cli(['history', '--json'])).out);
    expect(json.contracts).toHaveLength(1);
    expect(json.decisions.length).toBeGreaterThanOrEqual(5);
    expect(await readFile(join(store, 'registry', 'mnist-digits', 'contracts', '1.json'), 'utf8')).toContain('"version": 1');
  });
});
