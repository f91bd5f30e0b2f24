/**
 * An ONNX classifier on ONNX Runtime (CPU): checks the file against its
 * signature when opened, and turns dagwright's image batches (NHWC, pixels
 * in [0, 1]) into the model's input (its layout, datatype and scaling), and
 * its scores into class probabilities (softmax over logits).
 */
import type { InferenceSession as Session, Tensor as OrtTensor } from 'onnxruntime-node';
import type { DirectoryTarget } from '../../src';
import { imageGeometry, type ImageGeometry, MODEL_ONNX, type ModelSignature, readSignature, SIGNATURE_JSON, SignatureError } from './signature';

/** Threads ONNX Runtime uses inside one prediction. */
export const DEFAULT_ONNX_THREADS = 2;

export interface OnnxSessionOptions {
  /** Intra-op threads, the calling thread included; default DEFAULT_ONNX_THREADS. */
  readonly threads?: number;
  /**
   * Whether ONNX Runtime's helper threads spin between calls (its default: a little
   * less latency a call). Off where another thread of this process needs the core
   * between calls, as the server's main thread does while its worker predicts.
   */
  readonly spinWait?: boolean;
}

export interface OnnxOutputs {
  /** [count, classes] class probabilities. */
  readonly probabilities: Float32Array;
  /** [count, embeddingDim] when asked for and the signature names an embedding output. */
  readonly embeddings?: Float32Array;
}

type Ort = typeof import('onnxruntime-node');
let ort: Ort | undefined;
/** onnxruntime-node is loaded on first use: servers and flows that never meet an ONNX model do not pay for it. */
function onnxRuntime(): Ort {
  return (ort ??= require('onnxruntime-node') as Ort);
}

const dimsOf = (meta: Session.ValueMetadata | undefined): readonly (number | string)[] | undefined => (meta && meta.isTensor ? meta.shape : undefined);
const isFree = (d: number | string | undefined) => typeof d === 'string' || d === -1 || d === 0;

export class OnnxClassifier {
  readonly geometry: ImageGeometry;
  readonly classes: number;
  private readonly itemSize: number;

  private constructor(
    private readonly session: Session,
    readonly signature: ModelSignature,
  ) {
    this.geometry = imageGeometry(signature);
    this.classes = signature.classLabels.length;
    this.itemSize = this.geometry.height * this.geometry.width * this.geometry.channels;
  }

  /** Opens the model; throws `SignatureError` when the file is not ONNX or does not match its signature. */
  static async open(model: Uint8Array, signature: ModelSignature, { threads = DEFAULT_ONNX_THREADS, spinWait = true }: OnnxSessionOptions = {}): Promise<OnnxClassifier> {
    let session: Session;
    try {
      const extra = spinWait ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } };
      session = await onnxRuntime().InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'], graphOptimizationLevel: 'all', ...extra });
    } catch (err) {
      throw new SignatureError(`the file is not a model ONNX Runtime can load (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); check that it is a complete .onnx file.`);
    }
    const classifier = new OnnxClassifier(session, signature);
    try {
      classifier.checkAgainstSignature();
      await classifier.checkScores();
    } catch (err) {
      await session.release();
      throw err;
    }
    return classifier;
  }

  /** Opens the `model.onnx` of a directory (a registry version's files, a training output) by the `signature.json` beside it. */
  static async openIn(files: DirectoryTarget, options?: OnnxSessionOptions): Promise<OnnxClassifier> {
    const [model, signature] = await Promise.all([files.file(MODEL_ONNX).readBytes(), files.file(SIGNATURE_JSON).readBytes()]);
    return OnnxClassifier.openFiles({ [MODEL_ONNX]: model, [SIGNATURE_JSON]: signature }, files.file(SIGNATURE_JSON).uri, options);
  }

  /** Opens a model given as its `model.onnx` and `signature.json` bytes (an export not written yet); `where` names them in errors. */
  static openFiles(files: Readonly<Record<string, Uint8Array>>, where: string, options?: OnnxSessionOptions): Promise<OnnxClassifier> {
    return OnnxClassifier.open(files[MODEL_ONNX], readSignature(files[SIGNATURE_JSON], where), options);
  }

  private checkAgainstSignature(): void {
    const { input, outputs, scores } = this.signature;
    const index = this.session.inputNames.indexOf(input.name);
    if (index < 0) throw new SignatureError(`the model has no input "${input.name}" (its inputs: ${this.session.inputNames.join(', ')}); fix input.name in the signature.`);
    if (this.session.inputNames.length !== 1) throw new SignatureError(`the model has ${this.session.inputNames.length} inputs (${this.session.inputNames.join(', ')}); dagwright serves models with one image input.`);
    const meta = this.session.inputMetadata[index];
    const dims = dimsOf(meta);
    if (meta.isTensor && meta.type !== input.datatype) throw new SignatureError(`input "${input.name}" is ${meta.type} in the model but ${input.datatype} in the signature.`);
    if (dims && dims.length > 0) {
      const expected = `[batch, ${input.shape.join(', ')}] (${input.layout})`;
      if (dims.length !== 4 || dims.slice(1).some((d, i) => !isFree(d) && d !== input.shape[i])) {
        throw new SignatureError(`input "${input.name}" has shape [${dims.join(', ')}] in the model, the signature says ${expected}; fix input.shape and input.layout.`);
      }
      if (!isFree(dims[0])) throw new SignatureError(`input "${input.name}" has a fixed batch size of ${dims[0]}; export the model with a dynamic batch dimension (torch.onnx.export dynamic_axes).`);
    }
    const missing = outputs.filter((name) => !this.session.outputNames.includes(name));
    if (missing.length > 0) throw new SignatureError(`the model has no output ${missing.map((m) => `"${m}"`).join(', ')} (its outputs: ${this.session.outputNames.join(', ')}); fix "outputs" in the signature.`);
    const scoreDims = dimsOf(this.session.outputMetadata[this.session.outputNames.indexOf(scores.output)]);
    const last = scoreDims?.at(-1);
    if (typeof last === 'number' && last > 0 && last !== this.classes) {
      throw new SignatureError(`output "${scores.output}" scores ${last} classes but the signature lists ${this.classes} class labels.`);
    }
  }

  /** Runs two blank images: the scores must be `classes` finite numbers an image. */
  private async checkScores(): Promise<void> {
    let out: OnnxOutputs;
    try {
      out = await this.predict(new Float32Array(2 * this.itemSize), 2, true);
    } catch (err) {
      if (err instanceof SignatureError) throw err;
      throw new SignatureError(`the model failed on a batch of 2 images of the signature's shape (${err instanceof Error ? err.message.split('\n')[0] : String(err)}).`);
    }
    if (!out.probabilities.every(Number.isFinite)) throw new SignatureError(`output "${this.signature.scores.output}" gave values that are not finite numbers.`);
  }

  /** The model's input tensor for `count` images given NHWC in [0, 1]. */
  private inputTensor(features: Float32Array, count: number): OrtTensor {
    const { Tensor } = onnxRuntime();
    const { input, scaling } = this.signature;
    const { height, width, channels } = this.geometry;
    const size = count * this.itemSize;
    const factor = 255 / scaling.divide;
    const transpose = input.layout === 'NCHW' && channels > 1;
    // The common case (float pixels in [0, 1], one channel or NHWC) is handed over as it is.
    if (input.datatype === 'float32' && !transpose && factor === 1 && scaling.mean === 0 && scaling.std === 1) return new Tensor('float32', features.subarray(0, size), [count, ...input.shape]);
    const out = input.datatype === 'uint8' ? new Uint8Array(size) : new Float32Array(size);
    const plane = height * width;
    for (let n = 0; n < count; n++) {
      const base = n * this.itemSize;
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < channels; c++) {
          const value = features[base + p * channels + c];
          out[transpose ? base + c * plane + p : base + p * channels + c] = input.datatype === 'uint8' ? Math.round(value * 255) : (value * factor - scaling.mean) / scaling.std;
        }
      }
    }
    return input.datatype === 'uint8' ? new Tensor('uint8', out as Uint8Array, [count, ...input.shape]) : new Tensor('float32', out as Float32Array, [count, ...input.shape]);
  }

  /** Class probabilities (and embeddings when `withEmbedding` and the signature names one) for `count` images, NHWC in [0, 1]. */
  async predict(features: Float32Array, count: number, withEmbedding = false): Promise<OnnxOutputs> {
    const { scores, embedding, input } = this.signature;
    const fetches = [scores.output, ...(withEmbedding && embedding ? [embedding] : [])];
    const results = await this.session.run({ [input.name]: this.inputTensor(features, count) }, fetches);
    const scored = results[scores.output];
    if (scored.type !== 'float32' || scored.data.length !== count * this.classes) {
      throw new SignatureError(`output "${scores.output}" gave ${scored.type} of shape [${scored.dims.join(', ')}] for ${count} images: expected float32 [${count}, ${this.classes}].`);
    }
    const probabilities = scores.kind === 'logits' ? softmaxRows(scored.data as Float32Array, count, this.classes) : new Float32Array(scored.data as Float32Array);
    const emb = withEmbedding && embedding ? Float32Array.from(results[embedding].data as Float32Array) : undefined;
    for (const t of Object.values(results)) t.dispose();
    return { probabilities, ...(emb ? { embeddings: emb } : {}) };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Softmax of each row of a [rows, width] matrix (max subtracted first, so large logits do not overflow). */
export function softmaxRows(values: Float32Array, rows: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < width; c++) max = Math.max(max, values[r * width + c]);
    let sum = 0;
    for (let c = 0; c < width; c++) sum += out[r * width + c] = Math.exp(values[r * width + c] - max);
    for (let c = 0; c < width; c++) out[r * width + c] /= sum;
  }
  return out;
}
