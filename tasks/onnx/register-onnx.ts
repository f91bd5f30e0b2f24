/**
 * Registering an ONNX model from any framework (`dagwright registry add`,
 * and the API): the file and its signature are checked together with ONNX
 * Runtime before anything is written (the file loads, the signature's input
 * and outputs exist with the declared shape and type, the scores are finite
 * and one per class label), and the version records where the model came
 * from: a run, or a file and its sha256.
 */
import { createHash } from 'node:crypto';
import type { ModelRegistry, RegisterRequest, RegisterResult } from '../registry/registry';
import { OnnxClassifier } from './onnx-classifier';
import { MODEL_ONNX, type ModelSignature, parseSignature, SIGNATURE_JSON, SignatureError } from './signature';

export interface OnnxRegistration {
  readonly onnx: Uint8Array;
  /** The signature (checked here; a parsed `signature.json`). */
  readonly signature: unknown;
  /** Where the model came from: `{ run: <id> }` for a run, `{ file: <path> }` for a file (its sha256 is added). Free-form otherwise. */
  readonly lineage: Readonly<Record<string, unknown>>;
  readonly metrics?: Readonly<Record<string, unknown>>;
  readonly tags?: Readonly<Record<string, string>>;
  /** How the alias is decided (for champion: championPromotion from tasks/registry/promotion.ts). */
  readonly promote?: RegisterRequest['promote'];
}

/** Checks an ONNX model against its signature with ONNX Runtime; throws `SignatureError` saying what does not match. */
export async function checkOnnxModel(onnx: Uint8Array, signature: unknown): Promise<ModelSignature> {
  const parsed = parseSignature(signature);
  if (onnx.byteLength === 0) throw new SignatureError('the ONNX file is empty.');
  const classifier = await OnnxClassifier.open(onnx, parsed, { threads: 1 });
  await classifier.release();
  return parsed;
}

/** Registers a checked ONNX model as a new version (or finds the same content registered); throws `SignatureError` for a file that does not match its signature. */
export async function registerOnnxModel(registry: ModelRegistry, request: OnnxRegistration): Promise<RegisterResult> {
  const signature = await checkOnnxModel(request.onnx, request.signature);
  const sha256 = createHash('sha256').update(request.onnx).digest('hex');
  return registry.register({
    files: { [MODEL_ONNX]: request.onnx, [SIGNATURE_JSON]: Buffer.from(`${JSON.stringify(signature, null, 2)}\n`) },
    metrics: request.metrics ?? {},
    lineage: { ...request.lineage, onnxSha256: sha256, format: 'onnx' },
    tags: request.tags,
    promote: request.promote,
  });
}
