/**
 * Scores registered image classifiers on named data sources (see
 * sources/source-spec.ts), for champion decisions (tasks/registry/promotion.ts),
 * on ONNX Runtime when the version has an ONNX file with its signature (every
 * TF.js model dagwright registers has one, checked at registration to predict
 * what the TF.js model does: several times faster than the wasm backend), else
 * TF.js: every version asked about is scored on the very same images, loaded
 * once per scorer. Accuracy and macro-F1 (the mean of per-class F1, classes
 * absent from both labels and predictions left out).
 */
import { type ModelRegistry, type ModelVersion, RegistryError } from '../registry/registry';
import type { SourceMetrics, VersionScorer } from '../registry/promotion';
import { type Evaluation, predictClassesInTurns, scorePredictions } from '../training/evaluate';
import { evaluateOnnx } from '../onnx/evaluate-onnx';
import { OnnxClassifier } from '../onnx/onnx-classifier';
import { MODEL_ONNX, SIGNATURE_JSON } from '../onnx/signature';
import { loadModelFrom, MODEL_JSON } from '../training/model-io';
import { loadTensorFlow } from '../tf/tf-backend';
import { type ImageBatch, toFloatPixels } from './sources/image-batch';
import { loadSource } from './sources/source-spec';
import type { StoreLocation } from '../store';

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

/** A scorer for the registry's image classifiers (TF.js, or ONNX by signature); `labels:<batch>` sources are read from the registry's store. */
export function imageSourceScorer(): VersionScorer {
  const batches = new Map<string, Promise<{ batch: ImageBatch; floats: Float32Array }>>();
  const batchOf = (source: string, store: StoreLocation) => {
    if (!batches.has(source)) {
      batches.set(source, loadSource(source, { store }).then((batch) => {
        if (!batch.labels) throw new RegistryError(`promotion contract source "${source}" has no labels: a contract can only score on labelled sources.`, 'invalid');
        return { batch, floats: toFloatPixels(batch.pixels) };
      }));
    }
    return batches.get(source)!;
  };
  /** Evaluates one version on every source: its ONNX file by its signature when it has one, else its TF.js layers model. */
  async function evaluateVersion(registry: ModelRegistry, version: ModelVersion, sources: readonly string[]): Promise<Record<string, SourceMetrics>> {
    const scores: Record<string, SourceMetrics> = {};
    const predictor = await predictorOf(registry, version);
    try {
      for (const source of sources) {
        const { batch, floats } = await batchOf(source, registry.store);
        const evaluation = await predictor.evaluate(floats, batch.labels!, batch.count);
        scores[source] = { count: batch.count, accuracy: evaluation.accuracy, macroF1: macroF1(evaluation.confusion) };
      }
    } finally {
      await predictor.release();
    }
    return scores;
  }
  return { score: evaluateVersion };
}

interface VersionPredictor {
  evaluate(images: Float32Array, labels: Uint8Array, count: number): Promise<Evaluation>;
  release(): Promise<void>;
}

/** A registry version ready to score: on ONNX Runtime when it has an ONNX file and signature, else on TF.js. */
async function predictorOf(registry: ModelRegistry, version: ModelVersion): Promise<VersionPredictor> {
  const files = registry.filesOf(version.version);
  if (MODEL_ONNX in version.files && SIGNATURE_JSON in version.files) {
    const classifier = await OnnxClassifier.openIn(files);
    return { evaluate: (images, labels) => evaluateOnnx(classifier, images, labels), release: () => classifier.release() };
  }
  if (!(MODEL_JSON in version.files)) {
    throw new RegistryError(`version ${version.version} of "${registry.model}" has neither ${MODEL_JSON} nor ${MODEL_ONNX} with ${SIGNATURE_JSON}: the contract cannot score it.`, 'invalid');
  }
  const { tf } = await loadTensorFlow();
  const model = await loadModelFrom(tf, files);
  return {
    evaluate: async (images, labels, count) => scorePredictions(await predictClassesInTurns(tf, model, images, count), labels),
    release: async () => void model.dispose(),
  };
}
