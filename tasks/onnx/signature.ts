/**
 * A model signature: what an ONNX classifier takes and gives, so that
 * dagwright can feed it images and read its answers whatever framework made
 * it. Kept beside the model as `signature.json`.
 *
 *   {
 *     "input":  { "name": "input", "shape": [1, 28, 28], "datatype": "float32", "layout": "NCHW" },
 *     "scaling": { "divide": 255, "mean": 0.1307, "std": 0.3081 },     or "unit" (pixel/255) or "byte" (0-255)
 *     "outputs": ["logits", "embedding"],
 *     "scores": { "output": "logits", "kind": "logits" },               or kind "probabilities"
 *     "classLabels": ["0", "1", ..., "9"],
 *     "embedding": "embedding"                                          optional: drift's embedding MMD uses it
 *   }
 *
 * The input shape is one item's, without the batch dimension, in the order
 * of its layout ([channels, height, width] for NCHW, [height, width,
 * channels] for NHWC). A pixel p (0-255) enters the model as
 * (p / divide - mean) / std.
 */
import { DagwrightError } from '../../src';

export const SIGNATURE_JSON = 'signature.json';
export const MODEL_ONNX = 'model.onnx';

export type Layout = 'NCHW' | 'NHWC';
export type InputDatatype = 'float32' | 'uint8';

export interface Scaling {
  readonly divide: number;
  readonly mean: number;
  readonly std: number;
}

export interface ModelSignature {
  readonly input: { readonly name: string; readonly shape: readonly number[]; readonly datatype: InputDatatype; readonly layout: Layout };
  readonly scaling: Scaling;
  readonly outputs: readonly string[];
  readonly scores: { readonly output: string; readonly kind: 'probabilities' | 'logits' };
  readonly classLabels: readonly string[];
  readonly embedding?: string;
}

/** An image's geometry as the server and drift checks see it. */
export interface ImageGeometry {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** A signature (or an ONNX file against its signature) is not usable; the message says which field and what is expected. */
export class SignatureError extends DagwrightError {
  constructor(message: string) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const SCALINGS: Record<string, Scaling> = { unit: { divide: 255, mean: 0, std: 1 }, byte: { divide: 1, mean: 0, std: 1 } };

function fail(field: string, got: unknown, expected: string): never {
  throw new SignatureError(`signature field "${field}" is ${JSON.stringify(got) ?? 'missing'}: expected ${expected}.`);
}

function nonEmptyString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') fail(field, value, 'a non-empty string');
  return value;
}

function scalingOf(value: unknown): Scaling {
  if (typeof value === 'string' && value in SCALINGS) return SCALINGS[value];
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!isObject(value) || !positive(value.divide) || !(typeof value.mean === 'number' && Number.isFinite(value.mean)) || !positive(value.std)) {
    fail('scaling', value, '"unit" (pixel/255), "byte" (pixel 0-255) or {"divide": >0, "mean": number, "std": >0}');
  }
  return { divide: value.divide as number, mean: value.mean as number, std: value.std as number };
}

function inputOf(value: unknown): ModelSignature['input'] {
  if (!isObject(value)) fail('input', value, 'an object {name, shape, datatype, layout}');
  const shape = value.shape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    fail('input.shape', shape, 'one item\'s shape without the batch, three positive integers ([C,H,W] for NCHW, [H,W,C] for NHWC)');
  }
  if (value.datatype !== 'float32' && value.datatype !== 'uint8') fail('input.datatype', value.datatype, '"float32" or "uint8"');
  if (value.layout !== 'NCHW' && value.layout !== 'NHWC') fail('input.layout', value.layout, '"NCHW" or "NHWC"');
  return { name: nonEmptyString(value.name, 'input.name'), shape: shape as number[], datatype: value.datatype, layout: value.layout };
}

/** Checks a parsed `signature.json`; throws `SignatureError` naming the first bad field. */
export function parseSignature(value: unknown): ModelSignature {
  if (!isObject(value)) throw new SignatureError('a signature must be a JSON object {input, scaling, outputs, scores, classLabels, embedding?}.');
  const input = inputOf(value.input);
  const outputs = value.outputs;
  if (!Array.isArray(outputs) || outputs.length === 0 || !outputs.every((o) => typeof o === 'string' && o !== '')) fail('outputs', outputs, 'a non-empty list of the model\'s output names');
  const scores = value.scores;
  if (!isObject(scores) || (scores.kind !== 'probabilities' && scores.kind !== 'logits')) fail('scores', scores, '{"output": <name>, "kind": "probabilities" or "logits"}');
  const scoresOutput = nonEmptyString(scores.output, 'scores.output');
  if (!outputs.includes(scoresOutput)) fail('scores.output', scoresOutput, `one of "outputs" (${outputs.join(', ')})`);
  const labels = value.classLabels;
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string')) fail('classLabels', labels, 'a list of at least two class names, in the order of the scores');
  const embedding = value.embedding === undefined ? undefined : nonEmptyString(value.embedding, 'embedding');
  if (embedding !== undefined && !outputs.includes(embedding)) fail('embedding', embedding, `one of "outputs" (${outputs.join(', ')})`);
  return {
    input,
    scaling: scalingOf(value.scaling),
    outputs: outputs as string[],
    scores: { output: scoresOutput, kind: scores.kind },
    classLabels: labels as string[],
    ...(embedding === undefined ? {} : { embedding }),
  };
}

/** Parses `signature.json` bytes; names the file's problem. */
export function readSignature(bytes: Uint8Array, where: string): ModelSignature {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new SignatureError(`${where} is not JSON (${(err as Error).message}); write the signature as a JSON object.`);
  }
  try {
    return parseSignature(value);
  } catch (err) {
    if (err instanceof SignatureError) throw new SignatureError(`${where}: ${err.message}`);
    throw err;
  }
}

/** Height, width and channels of the signature's input. */
export function imageGeometry(signature: ModelSignature): ImageGeometry {
  const [a, b, c] = signature.input.shape;
  return signature.input.layout === 'NCHW' ? { channels: a, height: b, width: c } : { height: a, width: b, channels: c };
}
