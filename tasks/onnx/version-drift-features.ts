/**
 * Drift features of a registry version whatever its format: TF.js versions
 * through the TF.js feature model (penultimate layer as embedding); ONNX
 * versions through ONNX Runtime, with the signature's embedding output as
 * embedding, or no embedding (embeddingDim 0: the embedding MMD test is
 * skipped and the report says so) when the signature names none.
 */
import { computeFeatures, type DriftFeatures, featureModel, imageStatistics } from '../drift/features';
import { MNIST_PIXELS } from '../data/mnist-format';
import { ModelRegistry } from '../registry/registry';
import { modelFormatOf } from '../serving/runtime/model-format';
import { loadTensorFlow } from '../tf/tf-backend';
import { loadModelFrom } from '../training/model-io';
import { OnnxClassifier } from './onnx-classifier';
import { MODEL_ONNX, readSignature, SIGNATURE_JSON } from './signature';

async function onnxFeatures(registry: ModelRegistry, version: number, pixels: Uint8Array, count: number, batchSize = 256): Promise<DriftFeatures> {
  const files = registry.filesOf(version);
  const signature = readSignature(await files.file(SIGNATURE_JSON).readBytes(), files.file(SIGNATURE_JSON).uri);
  const classifier = await OnnxClassifier.open(await files.file(MODEL_ONNX).readBytes(), signature);
  try {
    const classes = classifier.classes;
    const probabilities = new Float32Array(count * classes);
    const parts: Float32Array[] = [];
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const x = Float32Array.from(pixels.subarray(start * MNIST_PIXELS, (start + n) * MNIST_PIXELS), (p) => p / 255);
      const out = await classifier.predict(x, n, true);
      probabilities.set(out.probabilities, start * classes);
      if (out.embeddings) parts.push(out.embeddings);
    }
    const embeddingDim = parts.length > 0 ? parts[0].length / Math.min(batchSize, count) : 0;
    const embeddings = new Float32Array(count * embeddingDim);
    parts.reduce((offset, part) => (embeddings.set(part, offset), offset + part.length), 0);
    return { count, probabilities, classes, embeddings, embeddingDim, imageStats: imageStatistics(pixels, count) };
  } finally {
    await classifier.release();
  }
}

/** Probabilities, embeddings and image statistics of `count` MNIST images (uint8, 784 each) under version `version`. */
export async function versionDriftFeatures(store: string, modelName: string, version: number, pixels: Uint8Array, count: number): Promise<DriftFeatures> {
  const registry = new ModelRegistry(store, modelName);
  if (modelFormatOf(await registry.version(version)) === 'onnx') return onnxFeatures(registry, version, pixels, count);
  const { tf } = await loadTensorFlow();
  const model = await loadModelFrom(tf, registry.filesOf(version));
  try {
    return computeFeatures(tf, featureModel(tf, model), pixels, count);
  } finally {
    model.dispose();
  }
}
