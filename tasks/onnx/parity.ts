/**
 * The export check: an exported model must predict what the TF.js model
 * predicts, image for image, within a tolerance; otherwise registration
 * fails naming the largest difference.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { DagwrightError } from '../../src';
import type { TensorFlow } from '../tf/tf-backend';
import { OnnxClassifier } from './onnx-classifier';
import type { ModelSignature } from './signature';

/** The default tolerance: the largest absolute difference of a class probability. */
export const PARITY_TOLERANCE = 1e-5;
/** Test images the check runs. */
export const PARITY_IMAGES = 1000;

export interface ParityResult {
  readonly images: number;
  readonly maxAbsDifference: number;
  /** Where the largest difference is. */
  readonly image: number;
  readonly classIndex: number;
  readonly tfjs: number;
  readonly onnx: number;
  readonly tolerance: number;
}

/** The exported model's predictions differ from the TF.js model's by more than the tolerance. */
export class OnnxParityError extends DagwrightError {
  constructor(readonly result: ParityResult) {
    super(
      `the ONNX export does not predict what the TensorFlow.js model predicts: the largest difference is ${result.maxAbsDifference.toExponential(3)} ` +
        `(image ${result.image}, class ${result.classIndex}: TF.js ${result.tfjs}, ONNX ${result.onnx}), over the tolerance ${result.tolerance} on ${result.images} test images. ` +
        'The model uses a layer or setting the exporter translates wrongly; register it without the export or report the layer.',
    );
  }
}

/** Compares the TF.js model and its ONNX export on `count` images (NHWC floats in [0, 1], `itemSize` each); throws `OnnxParityError` over `tolerance`. */
export async function checkOnnxParity(
  tf: TensorFlow,
  model: tfjs.LayersModel,
  onnx: Uint8Array,
  signature: ModelSignature,
  images: Float32Array,
  count: number,
  tolerance = PARITY_TOLERANCE,
): Promise<ParityResult> {
  const itemShape = model.inputs[0].shape.slice(1) as number[];
  const itemSize = itemShape.reduce((a, d) => a * d, 1);
  const classifier = await OnnxClassifier.open(onnx, signature);
  let worst: ParityResult = { images: count, maxAbsDifference: 0, image: 0, classIndex: 0, tfjs: 0, onnx: 0, tolerance };
  try {
    const batch = 250;
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const x = images.slice(start * itemSize, (start + n) * itemSize);
      const expected = tf.tidy(() => (model.predict(tf.tensor(x, [n, ...itemShape], 'float32')) as tfjs.Tensor).dataSync() as Float32Array);
      const { probabilities } = await classifier.predict(x, n);
      const classes = probabilities.length / n;
      probabilities.forEach((p, i) => {
        const d = Math.abs(p - expected[i]);
        if (!(d <= worst.maxAbsDifference)) worst = { ...worst, maxAbsDifference: Number.isNaN(d) ? Infinity : d, image: start + Math.floor(i / classes), classIndex: i % classes, tfjs: expected[i], onnx: p };
      });
    }
  } finally {
    await classifier.release();
  }
  if (!(worst.maxAbsDifference <= tolerance)) throw new OnnxParityError(worst);
  return worst;
}
