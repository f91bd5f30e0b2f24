/**
 * Scores an ONNX model (a registry version's, or a TF.js model's export) on
 * several test sources on ONNX Runtime: the same `MultiSourceScore` as the
 * TensorFlow.js scoring in drift/evaluate-sources.ts, several times faster.
 */
import type { DirectoryTarget } from '../../src';
import { type MultiSourceScore, multiSourceScore } from '../drift/evaluate-sources';
import { type ImageBatch, toFloatPixels } from '../drift/sources/image-batch';
import { evaluateOnnx } from './evaluate-onnx';
import { OnnxClassifier } from './onnx-classifier';

/** Scores the ONNX model in a registry version's (or a training output's) files. */
export async function scoreOnnxOnSources(files: DirectoryTarget, sources: readonly ImageBatch[]): Promise<MultiSourceScore> {
  return scoreClassifier(await OnnxClassifier.openIn(files), sources);
}

/** Scores an ONNX model given as its `model.onnx` and `signature.json` bytes (`where` names them in errors). */
export async function scoreOnnxModel(files: Readonly<Record<string, Uint8Array>>, sources: readonly ImageBatch[], where: string): Promise<MultiSourceScore> {
  return scoreClassifier(await OnnxClassifier.openFiles(files, where), sources);
}

/** Scores the classifier on every source, then releases it. */
async function scoreClassifier(classifier: OnnxClassifier, sources: readonly ImageBatch[]): Promise<MultiSourceScore> {
  try {
    const scores = [];
    for (const s of sources) {
      if (!s.labels) throw new Error(`test source ${s.name} has no labels`);
      const { accuracy } = await evaluateOnnx(classifier, toFloatPixels(s.pixels), s.labels);
      scores.push({ source: s.name, count: s.count, accuracy });
    }
    return multiSourceScore(scores);
  } finally {
    await classifier.release();
  }
}
