/**
 * The ONNX files a TF.js model is registered with: the export and its
 * signature, written only when the export predicts what the model does on
 * the given test images (see parity.ts).
 */
import type { DirectoryTarget } from '../../src';
import { loadTensorFlow } from '../tf/tf-backend';
import { loadModelFrom } from '../training/model-io';
import { checkOnnxParity, PARITY_IMAGES, type ParityResult } from './parity';
import { MODEL_ONNX, SIGNATURE_JSON } from './signature';
import { exportToOnnx } from './tfjs-to-onnx';

export interface OnnxExport {
  /** `model.onnx` and `signature.json`, to register beside the TF.js files. */
  readonly files: Record<string, Uint8Array>;
  readonly parity: ParityResult;
}

/** Exports the TF.js model in `modelDir` and checks it on the first `PARITY_IMAGES` of `images` (NHWC floats in [0, 1]); throws `OnnxParityError` or `OnnxExportError`. */
export async function exportForRegistration(modelDir: DirectoryTarget, images: Float32Array, producerVersion: string): Promise<OnnxExport> {
  const { tf } = await loadTensorFlow();
  const model = await loadModelFrom(tf, modelDir);
  try {
    const { onnx, signature } = exportToOnnx(model, { producerVersion });
    const itemSize = (model.inputs[0].shape.slice(1) as number[]).reduce((a, d) => a * d, 1);
    const count = Math.min(PARITY_IMAGES, Math.floor(images.length / itemSize));
    const parity = await checkOnnxParity(tf, model, onnx, signature, images, count);
    return { files: { [MODEL_ONNX]: onnx, [SIGNATURE_JSON]: Buffer.from(`${JSON.stringify(signature, null, 2)}\n`) }, parity };
  } finally {
    model.dispose();
  }
}
