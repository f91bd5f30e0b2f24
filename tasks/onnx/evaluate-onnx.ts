/** Evaluation of an ONNX classifier on labelled images (NHWC floats in [0, 1]): the same scores as the TF.js evaluation. */
import { type Evaluation, scorePredictions } from '../training/evaluate';
import type { OnnxClassifier } from './onnx-classifier';

export async function evaluateOnnx(classifier: OnnxClassifier, images: Float32Array, labels: Uint8Array, batchSize = 500): Promise<Evaluation> {
  const itemSize = classifier.geometry.height * classifier.geometry.width * classifier.geometry.channels;
  const classes = classifier.classes;
  const predictions = new Uint8Array(labels.length);
  for (let start = 0; start < labels.length; start += batchSize) {
    const n = Math.min(batchSize, labels.length - start);
    const { probabilities } = await classifier.predict(images.subarray(start * itemSize, (start + n) * itemSize), n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probabilities[i * classes + c] > probabilities[i * classes + best]) best = c;
      predictions[start + i] = best;
    }
  }
  return scorePredictions(predictions, labels, classes);
}
