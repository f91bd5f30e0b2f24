/**
 * The adapter for image classifiers: one input, an image batch
 * `[n, height, width, channels]` (also accepted flat as `[n, height*width*channels]`,
 * or `[n, height, width]` for one channel), FP32 in [0, 1] or UINT8 0-255
 * (FP64, numpy's default float, is taken as FP32 and converted);
 * two outputs, the class probabilities and the predicted label. When the
 * served version names its own input (an ONNX signature's), a request may
 * send that input instead, by its name and in its shape and layout (NCHW is
 * turned into the server's NHWC), with the same pixel values.
 */
import { InferenceInputError } from '../errors';
import type { DecodedInputs, ModelAdapter, ModelInput, RequestTensor, TensorMetadata } from './model-adapter';

export interface ImageClassifierShape {
  readonly inputName: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: number;
}

export const PROBABILITIES_OUTPUT = 'probabilities';
export const LABEL_OUTPUT = 'label';
const DATATYPES = ['FP32', 'UINT8', 'FP64'] as const;
type Datatype = (typeof DATATYPES)[number];

function sameShape(a: readonly (number | null)[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Binary UINT8 pixels (every byte is a valid one), in a function of its own
 * over plain Uint8Array and Float32Array views: inside `fill`, which also
 * reads JSON's number lists, reading a Buffer's bytes measured about 6x
 * slower (300-500 us against 55 for a 32-image request, load 7).
 */
function fillBytes({ features, pixels }: DecodedInputs, offset: number, bytes: Uint8Array): void {
  pixels.set(bytes, offset);
  const from = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const to = features.subarray(offset, offset + from.length);
  for (let i = 0; i < from.length; i++) to[i] = from[i] / 255;
}

/** Writes `values` (numbers of `datatype`) as features in [0, 1] and uint8 pixels at `offset`; names the first bad value. */
function fill(out: DecodedInputs, offset: number, values: ArrayLike<unknown>, datatype: Datatype, where: string): void {
  const { features, pixels } = out;
  if (values instanceof Uint8Array && datatype === 'UINT8') return fillBytes(out, offset, values);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw new InferenceInputError(`${where}[${offset + i}] is ${JSON.stringify(v) ?? typeof v}: expected a number.`);
    if (datatype !== 'UINT8') {
      if (!(v >= 0 && v <= 1)) throw new InferenceInputError(`${where}[${offset + i}] is ${v}: ${datatype} pixels must be in [0, 1] (send UINT8 for 0-255).`);
      features[offset + i] = v;
      pixels[offset + i] = Math.round(v * 255);
    } else {
      if (!(Number.isInteger(v) && v >= 0 && v <= 255)) throw new InferenceInputError(`${where}[${offset + i}] is ${v}: UINT8 pixels must be whole numbers 0-255.`);
      features[offset + i] = v / 255;
      pixels[offset + i] = v;
    }
  }
}

/** Nested arrays to one flat list (a flat list is returned as is). */
function flatten(data: readonly unknown[], where: string): readonly unknown[] {
  // Only the first item is looked at: a flat list with a stray list in it is refused value by value by fill().
  if (!Array.isArray(data[0])) return data;
  const flat: unknown[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) for (const item of value) walk(item);
    else flat.push(value);
  };
  walk(data);
  if (flat.length === 0) throw new InferenceInputError(`${where} holds no values.`);
  return flat;
}

function checkDatatype(datatype: unknown, where: string): Datatype {
  if (!(DATATYPES as readonly unknown[]).includes(datatype)) {
    throw new InferenceInputError(`${where} is ${JSON.stringify(datatype) ?? 'missing'}: expected "FP32" (pixels in [0, 1]; FP64 is taken as FP32) or "UINT8" (pixels 0-255).`);
  }
  return datatype as Datatype;
}

/**
 * The image classifier a model's own shapes describe: input `[null, height, width, channels]`,
 * output `[null, classes]`; its input is named
 * `inputName`. Returns why not, as a string, for any other model.
 */
export function imageClassifierFitting(inputShape: readonly (number | null)[], outputShape: readonly (number | null)[], inputName = 'image'): ModelAdapter | string {
  const [batch, height, width, channels] = inputShape;
  const known = (d: number | null | undefined): d is number => typeof d === 'number' && d > 0;
  if (inputShape.length !== 4 || batch !== null || !known(height) || !known(width) || !known(channels)) {
    return `its input shape is ${JSON.stringify(inputShape)}; without an adapter the server takes images [null,height,width,channels]: pass an adapter for this model`;
  }
  if (outputShape.length !== 2 || outputShape[0] !== null || !known(outputShape[1])) {
    return `its output shape is ${JSON.stringify(outputShape)}; without an adapter the server expects class probabilities [null,classes]: pass an adapter for this model`;
  }
  return imageClassifierAdapter({ inputName, height, width, channels, classes: outputShape[1] });
}

/** An image classifier's shape with what its adapter derives from it once. */
interface ItemLayout extends ImageClassifierShape {
  readonly itemShape: readonly number[];
  readonly itemSize: number;
  /** The request shapes taken besides the model's own, for error messages. */
  readonly accepted: readonly string[];
}

function layoutOf(shape: ImageClassifierShape): ItemLayout {
  const { height, width, channels } = shape;
  const itemSize = height * width * channels;
  const accepted = [`[n,${height},${width},${channels}]`, `[n,${itemSize}]`, ...(channels === 1 ? [`[n,${height},${width}]`] : [])];
  return { ...shape, itemShape: [height, width, channels], itemSize, accepted };
}

function decodedInputs(layout: ItemLayout, count: number): DecodedInputs {
  return { count, features: new Float32Array(count * layout.itemSize), pixels: new Uint8Array(count * layout.itemSize) };
}

/** The model's own item shape when it is not one of the server's, and whether it puts channels first in memory. */
function ownShape(layout: ItemLayout, modelInput: ModelInput | undefined): { shape: readonly (number | null)[] | undefined; channelsFirst: boolean } {
  const shape = modelInput && !sameShape(modelInput.shape, layout.itemShape) ? modelInput.shape : undefined;
  return { shape, channelsFirst: shape !== undefined && modelInput!.layout === 'NCHW' && layout.channels > 1 };
}

/** The batch size of a tensor of shape `dims`, and whether its items are channels first (the model's own NCHW shape). */
function batchOf(layout: ItemLayout, dims: unknown, modelInput: ModelInput | undefined): { count: number; channelsFirst: boolean } {
  const { height, width, channels, itemShape, itemSize } = layout;
  const ok = Array.isArray(dims) && dims.length >= 2 && dims.every((d) => Number.isInteger(d) && d > 0);
  const tail = ok ? (dims as number[]).slice(1) : [];
  const own = ownShape(layout, modelInput);
  if (ok && own.shape && sameShape(tail, own.shape)) return { count: (dims as number[])[0], channelsFirst: own.channelsFirst };
  if (ok && (sameShape(tail, itemShape) || sameShape(tail, [itemSize]) || (channels === 1 && sameShape(tail, [height, width])))) return { count: (dims as number[])[0], channelsFirst: false };
  const shapes = own.shape ? [...layout.accepted, `[n,${own.shape.join(',')}] (${modelInput!.layout})`] : layout.accepted;
  throw new InferenceInputError(`input shape ${JSON.stringify(dims) ?? 'is missing'} is not accepted: expected ${shapes.join(' or ')} with n >= 1.`);
}

/** Reorders item `n` in place from [channels, height, width] to [height, width, channels]. */
function toChannelsLast({ height, width, channels, itemSize }: ItemLayout, out: DecodedInputs, n: number): void {
  const base = n * itemSize;
  const plane = height * width;
  const features = out.features.slice(base, base + itemSize);
  const pixels = out.pixels.slice(base, base + itemSize);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      out.features[base + p * channels + c] = features[c * plane + p];
      out.pixels[base + p * channels + c] = pixels[c * plane + p];
    }
  }
}

function namesOf(inputName: string, modelInput: ModelInput | undefined): string {
  return modelInput && modelInput.name !== inputName ? `"${inputName}" (or the model's own "${modelInput.name}")` : `"${inputName}"`;
}

/** A V2 request's one tensor, in the server's shape or the model's own. */
function decodeTensors(layout: ItemLayout, inputs: readonly RequestTensor[], modelInput?: ModelInput): DecodedInputs {
  const { inputName, itemSize } = layout;
  if (!Array.isArray(inputs) || inputs.length !== 1) {
    throw new InferenceInputError(`"inputs" must be a list of one tensor (named ${namesOf(inputName, modelInput)}), got ${Array.isArray(inputs) ? `${inputs.length} tensors` : JSON.stringify(inputs) ?? 'nothing'}.`);
  }
  const tensor = inputs[0];
  if (typeof tensor !== 'object' || tensor === null) throw new InferenceInputError('inputs[0] must be an object {name, shape, datatype, data}.');
  if (tensor.name !== undefined && tensor.name !== inputName && tensor.name !== modelInput?.name) {
    throw new InferenceInputError(`inputs[0].name is ${JSON.stringify(tensor.name)}: this model's input is ${namesOf(inputName, modelInput)}.`);
  }
  const datatype = checkDatatype(tensor.datatype, 'inputs[0].datatype');
  const { count, channelsFirst } = batchOf(layout, tensor.shape, modelInput);
  // Binary inputs and JSON lists read from the bytes arrive as typed arrays (binary-tensors.ts).
  const typed = ArrayBuffer.isView(tensor.data) && !(tensor.data instanceof DataView);
  if (!typed && !Array.isArray(tensor.data)) throw new InferenceInputError(`inputs[0].data must be a list of ${count * itemSize} numbers (shape ${JSON.stringify(tensor.shape)}).`);
  const values = typed ? (tensor.data as unknown as ArrayLike<number>) : flatten(tensor.data as unknown[], 'inputs[0].data');
  if (values.length !== count * itemSize) {
    throw new InferenceInputError(`inputs[0].data has ${values.length} values but shape ${JSON.stringify(tensor.shape)} needs ${count * itemSize}.`);
  }
  const out = decodedInputs(layout, count);
  fill(out, 0, values, datatype, 'inputs[0].data');
  if (channelsFirst) for (let n = 0; n < count; n++) toChannelsLast(layout, out, n);
  return out;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** MLflow/TF-serving rows: images, or records holding one under the input's name (images under the model's own name are in its layout). */
function decodeInstances(layout: ItemLayout, instances: unknown, datatypeName: string, modelInput?: ModelInput): DecodedInputs {
  const { inputName, itemShape, itemSize } = layout;
  const datatype = checkDatatype(datatypeName, 'params.datatype');
  const ownName = modelInput && modelInput.name !== inputName ? modelInput.name : undefined;
  const { channelsFirst } = ownShape(layout, modelInput);
  const nameIn = (value: Record<string, unknown>) => (inputName in value ? inputName : ownName !== undefined && ownName in value ? ownName : undefined);
  let rows = instances;
  let rowsName: string | undefined;
  if (isRecord(rows) && (rowsName = nameIn(rows)) !== undefined) rows = rows[rowsName];
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new InferenceInputError(`expected "inputs" or "instances" to be a non-empty list of images, each ${itemShape.join('x')} or ${itemSize} numbers.`);
  }
  const out = decodedInputs(layout, rows.length);
  rows.forEach((row: unknown, i) => {
    const name = isRecord(row) ? nameIn(row) : rowsName;
    const item = isRecord(row) ? (name === undefined ? undefined : row[name]) : row;
    const values = Array.isArray(item) ? flatten(item, `instances[${i}]`) : [];
    if (values.length !== itemSize) throw new InferenceInputError(`instances[${i}] has ${values.length} values: expected an image of ${itemShape.join('x')} = ${itemSize} numbers.`);
    fill(out, i * itemSize, values, datatype, 'instances (flattened)');
    if (channelsFirst && name === ownName && name !== undefined) toChannelsLast(layout, out, i);
  });
  return out;
}

/** An adapter for image classifiers of the given shape. */
export function imageClassifierAdapter(shape: ImageClassifierShape): ModelAdapter {
  const layout = layoutOf(shape);
  const { inputName, height, width, channels, classes, itemShape, itemSize } = layout;
  const inputs: TensorMetadata[] = [{ name: inputName, datatype: 'FP32', shape: [-1, ...itemShape] }];
  const outputs: TensorMetadata[] = [
    { name: PROBABILITIES_OUTPUT, datatype: 'FP32', shape: [-1, classes] },
    { name: LABEL_OUTPUT, datatype: 'INT64', shape: [-1] },
  ];
  return {
    inputs,
    outputs,
    itemShape,
    itemSize,
    classes,
    logShape: channels === 1 ? [height, width] : itemShape,
    decodeTensors: (tensors, modelInput) => decodeTensors(layout, tensors, modelInput),
    decodeInstances: (instances, datatype, modelInput) => decodeInstances(layout, instances, datatype, modelInput),
    incompatibility: (inputShape, outputShape) => {
      if (!sameShape(inputShape, [null, ...itemShape])) return `its input shape is ${JSON.stringify(inputShape)}, the server takes [null,${itemShape.join(',')}]`;
      if (!sameShape(outputShape, [null, classes])) return `its output shape is ${JSON.stringify(outputShape)}, the server expects [null,${classes}]`;
      return undefined;
    },
  };
}
