/**
 * Drift features of a registry version whatever its format: TF.js versions
 * through the TF.js feature model (penultimate layer as embedding); ONNX
 * versions through ONNX Runtime, with the signature's embedding output as
 * embedding, or no embedding (embeddingDim 0: the embedding MMD test is
 * skipped and the report says so) when the signature names none.
 */
import { computeFeatures, type DriftFeatures, featureModel, imageStatistics } from '../drift/features';
import { MNIST_PIXELS } from '../data/mnist-format';
import { toFloatPixels } from '../drift/sources/image-batch';
import { ModelRegistry } from '../registry/registry';
import { modelFormatOf } from '../serving/runtime/model-format';
import { loadTensorFlow } from '../tf/tf-backend';
import { loadModelFrom } from '../training/model-io';
import { OnnxClassifier } from './onnx-classifier';

/** A session of a version checked lately, and the checks using it now. */
interface OpenSession {
  readonly classifier: Promise<OnnxClassifier>;
  users: number;
}

/**
 * Sessions of the versions checked lately, by version file and content: a monitor that checks the
 * version serving every hour in one process opens its session once (registry versions never change).
 * At most KEPT_SESSIONS stay open; one in use is never closed.
 */
const sessions = new Map<string, OpenSession>();
const KEPT_SESSIONS = 2;

async function openSession(registry: ModelRegistry, version: number): Promise<OpenSession> {
  const files = registry.filesOf(version);
  const key = `${files.uri}#${(await registry.version(version)).contentSha256}`;
  let session = sessions.get(key);
  if (session) sessions.delete(key);
  else {
    // No spinning: a monitor shares the cores with the server and training, and runs one batch at a time.
    session = { classifier: OnnxClassifier.openIn(files, { spinWait: false }), users: 0 };
    session.classifier.catch(() => sessions.delete(key));
  }
  sessions.set(key, session);
  session.users++;
  for (const [k, s] of sessions) {
    if (sessions.size <= KEPT_SESSIONS) break;
    if (s.users > 0) continue;
    sessions.delete(k);
    void s.classifier.then((c) => c.release(), () => undefined);
  }
  return session;
}

async function onnxFeatures(registry: ModelRegistry, version: number, pixels: Uint8Array, count: number, batchSize = 256): Promise<DriftFeatures> {
  const session = await openSession(registry, version);
  try {
    const classifier = await session.classifier;
    const classes = classifier.classes;
    const probabilities = new Float32Array(count * classes);
    const parts: Float32Array[] = [];
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const x = toFloatPixels(pixels.subarray(start * MNIST_PIXELS, (start + n) * MNIST_PIXELS));
      const out = await classifier.predict(x, n, true);
      probabilities.set(out.probabilities, start * classes);
      if (out.embeddings) parts.push(out.embeddings);
    }
    const embeddingDim = parts.length > 0 ? parts[0].length / Math.min(batchSize, count) : 0;
    const embeddings = new Float32Array(count * embeddingDim);
    parts.reduce((offset, part) => (embeddings.set(part, offset), offset + part.length), 0);
    return { count, probabilities, classes, embeddings, embeddingDim, imageStats: imageStatistics(pixels, count) };
  } finally {
    session.users--;
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
