import { readReference } from '../tasks/drift/reference-task';
import { logWindow } from '../tasks/drift/window';
import { versionDriftFeatures } from '../tasks/onnx/version-drift-features';
import { runDriftChecks } from '../tasks/drift/checks';
import { driftHistograms } from '../tasks/drift/report';
import { DRIFT_TESTS } from '../tasks/drift/checks';
async function main() {
  const store = '/tmp/op6d', model = 'mnist-digits', version = 5;
  const t: Record<string, number> = {};
  const time = async <T>(k: string, f: () => Promise<T> | T): Promise<T> => { const s = performance.now(); const r = await f(); t[k] = (t[k] ?? 0) + performance.now() - s; return r; };
  for (let i = 0; i < 20; i++) {
    const { features: reference } = await time('reference', () => readReference(store, model, version));
    const { batch } = await time('window', () => logWindow(store, model, { last: 300 }));
    const current = await time('features', () => versionDriftFeatures(store, model, version, batch.pixels, batch.count));
    await time('checks', () => runDriftChecks(reference, current, { pValue: 0.05, permutations: 100, combine: 'bonferroni', seed: 0, tests: [...DRIFT_TESTS], imageStatTest: 'auto' } as any));
    await time('histograms', () => driftHistograms(reference, current));
  }
  for (const k in t) console.log(k, (t[k] / 20).toFixed(1), 'ms');
}
main();
