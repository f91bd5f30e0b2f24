/**
 * CBPE against realized accuracy on known windows: a small real TF.js
 * classifier trained on MNIST, calibrated on held-out MNIST images, then
 * asked to estimate accuracy on MNIST's test set (same kind of images: the
 * estimate matches what the labels say) and on optdigits (shifted: the
 * estimate drops and raises the alert before any label is needed).
 */
import type * as tfjs from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrated, estimateAccuracy, estimatedDrop, fitCbpe, type CbpeCalibration } from '../tasks/drift/cbpe';
import { type ImageBatch, pickImages, sampleImages, toFloatPixels } from '../tasks/drift/sources/image-batch';
import { loadSource } from '../tasks/drift/sources/source-spec';
import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';

let tf: TensorFlow;
let model: tfjs.Sequential;
let calibration: CbpeCalibration;

function probabilitiesOf(batch: ImageBatch): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor2d(toFloatPixels(batch.pixels), [batch.count, 784])) as tfjs.Tensor).dataSync() as Float32Array);
}
function realized(batch: ImageBatch, probabilities: Float32Array): number {
  let right = 0;
  for (let i = 0; i < batch.count; i++) {
    const row = probabilities.subarray(i * 10, i * 10 + 10);
    if (row.indexOf(Math.max(...row)) === batch.labels![i]) right++;
  }
  return right / batch.count;
}

beforeAll(async () => {
  ({ tf } = await loadTensorFlow());
  const train = sampleImages(await loadSource('mnist-train'), 5000, 11);
  const fit = pickImages(train, Array.from({ length: 3000 }, (_, i) => i));
  const reference = pickImages(train, Array.from({ length: 2000 }, (_, i) => 3000 + i));
  model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] });
  model.compile({ optimizer: tf.train.adam(0.003), loss: 'sparseCategoricalCrossentropy' });
  const x = tf.tensor2d(toFloatPixels(fit.pixels), [fit.count, 784]);
  const y = tf.tensor1d(Array.from(fit.labels!), 'float32');
  await model.fit(x, y, { epochs: 4, batchSize: 64, shuffle: false, verbose: 0 });
  x.dispose();
  y.dispose();
  calibration = fitCbpe(probabilitiesOf(reference), 10, reference.labels!);
}, 300_000);

describe('CBPE', () => {
  it('calibration is monotone and reproduces the reference accuracy', () => {
    expect(calibration.values.every((v, i) => i === 0 || v >= calibration.values[i - 1])).toBe(true);
    expect(calibrated(calibration, 1)).toBeGreaterThan(calibrated(calibration, 0.2));
    expect(calibration.referenceAccuracy).toBeGreaterThan(0.8);
  });

  it('estimates the accuracy of an unshifted window within 3 points of what its labels say', async () => {
    const window = sampleImages(await loadSource('mnist-test'), 1000, 5);
    const probabilities = probabilitiesOf(window);
    const estimated = estimateAccuracy(calibration, probabilities, 10);
    expect(Math.abs(estimated - realized(window, probabilities))).toBeLessThan(0.03);
    expect(estimatedDrop(calibration, estimated, 0.05).alert).toBe(false);
  });

  it('sees the accuracy fall on a shifted source before labels arrive, and alerts', async () => {
    const window = sampleImages(await loadSource('optdigits:heldout'), 1000, 5);
    const probabilities = probabilitiesOf(window);
    const estimated = estimateAccuracy(calibration, probabilities, 10);
    const actual = realized(window, probabilities);
    expect(actual).toBeLessThan(calibration.referenceAccuracy - 0.1);
    const { drop, alert } = estimatedDrop(calibration, estimated, 0.05);
    expect(alert).toBe(true);
    expect(drop).toBeGreaterThan(0.05);
  });
});
