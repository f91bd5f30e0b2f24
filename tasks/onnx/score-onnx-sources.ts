/**
 * Scores an ONNX registry version (a model trained outside dagwright, such
 * as in PyTorch) on several test sources on ONNX Runtime: the same
 * `MultiSourceScore` as the TensorFlow.js scoring in drift/evaluate-sources.ts,
 * so a retrained TF.js model can be compared with an ONNX champion.
 */
import type { DirectoryTarget } from '../../src';
import { type MultiSourceScore, multiSourceScore } from '../drift/evaluate-sources';
import { type ImageBatch, toFloatPixels } from '../drift/sources/image-batch';
import { evaluateOnnx } from './evaluate-onnx';
import { OnnxClassifier } from './onnx-classifier';
import { MODEL_ONNX, readSignature, SIGNATURE_JSON } from './signature';

export async function scoreOnnxOnSources(files: DirectoryTarget, sources: readonly ImageBatch[]): Promise<MultiSourceScore> {
  const [onnx, signatureBytes] = await Promise.all([files.file(MODEL_ONNX).readBytes(), files.file(SIGNATURE_JSON).readBytes()]);
  const classifier = await OnnxClassifier.open(onnx, readSignature(signatureBytes, files.file(SIGNATURE_JSON).uri));
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
