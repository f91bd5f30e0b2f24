/**
 * Scores registered image classifiers on named data sources (see
 * sources/source-spec.ts), for champion decisions (tasks/registry/promotion.ts):
 * every version asked about is scored on the very same images, loaded once
 * per scorer. Accuracy and macro-F1 (the mean of per-class F1, classes
 * absent from both labels and predictions left out).
 */
import { type ModelRegistry, type ModelVersion, RegistryError } from '../registry/registry';
import type { SourceMetrics, VersionScorer } from '../registry/promotion';
import { predictClasses, scorePredictions } from '../training/evaluate';
import { loadModelFrom, MODEL_JSON } from '../training/model-io';
import { loadTensorFlow } from '../tf/tf-backend';
import { type ImageBatch, toFloatPixels } from './sources/image-batch';
import { loadSource } from './sources/source-spec';

/** Mean F1 over the classes that occur in the labels or the predictions. */
export function macroF1(confusion: readonly (readonly number[])[]): number {
  const f1s: number[] = [];
  for (let c = 0; c < confusion.length; c++) {
    const tp = confusion[c][c];
    const actual = confusion[c].reduce((a, n) => a + n, 0);
    const predicted = confusion.reduce((a, row) => a + row[c], 0);
    if (actual === 0 && predicted === 0) continue;
    f1s.push((2 * tp) / (actual + predicted));
  }
  return f1s.length === 0 ? Number.NaN : f1s.reduce((a, f) => a + f, 0) / f1s.length;
}

/** A scorer for TF.js image classifiers in the registry; `store` resolves `labels:<batch>` sources. */
export function imageSourceScorer(store: string): VersionScorer {
  const batches = new Map<string, Promise<{ batch: ImageBatch; floats: Float32Array }>>();
  const batchOf = (source: string) => {
    if (!batches.has(source)) {
      batches.set(source, loadSource(source, { store }).then((batch) => {
        if (!batch.labels) throw new RegistryError(`promotion contract source "${source}" has no labels: a contract can only score on labelled sources.`, 'invalid');
        return { batch, floats: toFloatPixels(batch.pixels) };
      }));
    }
    return batches.get(source)!;
  };
  return {
    async score(registry: ModelRegistry, version: ModelVersion, sources: readonly string[]): Promise<Record<string, SourceMetrics>> {
      if (!(MODEL_JSON in version.files)) {
        throw new RegistryError(`version ${version.version} of "${registry.model}" has no ${MODEL_JSON}: the contract scorer scores TF.js versions only.`, 'invalid');
      }
      const { tf } = await loadTensorFlow();
      const model = await loadModelFrom(tf, registry.filesOf(version.version));
      try {
        const scores: Record<string, SourceMetrics> = {};
        for (const source of sources) {
          const { batch, floats } = await batchOf(source);
          const evaluation = scorePredictions(predictClasses(tf, model, floats, batch.count), batch.labels!);
          scores[source] = { count: batch.count, accuracy: evaluation.accuracy, macroF1: macroF1(evaluation.confusion) };
        }
        return scores;
      } finally {
        model.dispose();
      }
    },
  };
}
