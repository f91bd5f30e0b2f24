/**
 * How the body of an infer request becomes tensors, and how an answer with
 * binary outputs becomes bytes: the Open Inference Protocol's binary tensor
 * data extension, as Triton, KServe and MLServer clients speak it.
 *
 * A binary request is a JSON header of `Inference-Header-Content-Length`
 * bytes, then the bytes of each input that gives `parameters.binary_data_size`,
 * in the order of `inputs` (little-endian, row-major, no padding). An output
 * comes back binary when its `parameters.binary_data` says so, or else when
 * the request's `parameters.binary_data_output` does; the answer is then its
 * JSON header (length in the response's `Inference-Header-Content-Length`,
 * `binary_data_size` on each binary output) followed by those outputs' bytes.
 *
 * Binary inputs become typed arrays in place of `data` (UINT8 a view of the
 * body, FP32 a Float32Array), so the adapter reads binary and JSON inputs
 * alike (json-tensor-data.ts does the same for JSON bodies).
 */
import { endianness } from 'node:os';
import { InferenceInputError } from '../errors';

/** The request and response header giving the JSON header's length in bytes. */
export const INFERENCE_HEADER_LENGTH = 'inference-header-content-length';
/** The extension's name in the server metadata (`GET /v2`). */
export const BINARY_TENSOR_EXTENSION = 'binary_tensor_data';

/** Parses JSON text the way the server parses JSON bodies (throws on bad JSON). */
export type ParseJson = (text: Buffer | string) => unknown;

/** Bytes per value of the datatypes a binary input may have. */
const VALUE_BYTES: Readonly<Record<string, number>> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export type Json = Record<string, unknown>;
export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function headerLengthOf(value: string | string[] | undefined, bodyBytes: number): number {
  // Without the header (a binary content type alone) the whole body is the JSON header, as in Triton.
  if (value === undefined) return bodyBytes;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) {
    throw new InferenceInputError(`Inference-Header-Content-Length is ${JSON.stringify(value)}: expected the length in bytes of the JSON header that starts the body.`);
  }
  const length = Number(value);
  if (length > bodyBytes) {
    throw new InferenceInputError(`Inference-Header-Content-Length is ${length} but the body has only ${bodyBytes} bytes: it must give the length of the JSON header that starts the body, with the tensor bytes after it.`);
  }
  if (length === 0) throw new InferenceInputError('Inference-Header-Content-Length is 0: the body must start with a JSON header such as {"inputs": [...]}.');
  return length;
}

function parseHeader(bytes: Buffer, parseJson: ParseJson): unknown {
  try {
    return parseJson(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InferenceInputError(`the JSON header (the first ${bytes.length} bytes, per Inference-Header-Content-Length) is not valid JSON (${reason}): check that the header gives its length in bytes.`);
  }
}

/** The byte size an input gives, undefined for an input with inline `data`; throws when neither or both are given. */
function binarySizeOf(input: Json, i: number): number | undefined {
  const parameters = isObject(input.parameters) ? input.parameters : {};
  const size = parameters.binary_data_size;
  if (size === undefined) {
    if (input.data === undefined) throw new InferenceInputError(`inputs[${i}] has neither "data" nor parameters.binary_data_size: a binary input needs its size in bytes in parameters.binary_data_size.`);
    return undefined;
  }
  if (input.data !== undefined) throw new InferenceInputError(`inputs[${i}] has both "data" and parameters.binary_data_size: send its values in one of them.`);
  if (!(Number.isInteger(size) && (size as number) >= 0)) {
    throw new InferenceInputError(`inputs[${i}].parameters.binary_data_size is ${JSON.stringify(size)}: expected the input's size in bytes, a whole number >= 0.`);
  }
  return size as number;
}

/** Checks the size against the shape and datatype (when both are well formed; the adapter names bad ones). */
function checkSize(input: Json, i: number, size: number): void {
  const valueBytes = typeof input.datatype === 'string' ? VALUE_BYTES[input.datatype] : undefined;
  const shape = input.shape;
  if (valueBytes === undefined || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) return;
  const values = (shape as number[]).reduce((n, d) => n * d, 1);
  if (size !== values * valueBytes) {
    throw new InferenceInputError(`inputs[${i}] has binary_data_size ${size}, but shape ${JSON.stringify(shape)} of ${input.datatype} needs ${values * valueBytes} bytes (${values} values of ${valueBytes}).`);
  }
}

/** Little-endian FP32 or FP64 bytes as a typed array (a copy, so it is aligned). */
function floatValues(bytes: Uint8Array, width: 4 | 8): Float32Array | Float64Array {
  const values = width === 4 ? new Float32Array(bytes.length / 4) : new Float64Array(bytes.length / 8);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(values.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = width === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
  }
  return values;
}

/** An input's bytes as its values: UINT8 a view, FP32 and FP64 (numpy's default float) typed arrays; other datatypes stay bytes (the adapter refuses them). */
function valuesOf(datatype: unknown, bytes: Uint8Array): ArrayLike<number> {
  if (datatype === 'FP32') return floatValues(bytes, 4);
  return datatype === 'FP64' ? floatValues(bytes, 8) : bytes;
}

/** Puts each binary input's values in its `data`, taking the bytes after the header in input order; throws when sizes do not add up. */
function attachBinaryInputs(header: unknown, binary: Buffer): void {
  const inputs: unknown[] = isObject(header) && Array.isArray(header.inputs) ? header.inputs : [];
  let offset = 0;
  inputs.forEach((input, i) => {
    if (!isObject(input)) return; // the adapter names it
    const size = binarySizeOf(input, i);
    if (size === undefined) return;
    checkSize(input, i, size);
    if (offset + size > binary.length) {
      throw new InferenceInputError(`inputs[${i}] has binary_data_size ${size}, but only ${binary.length - offset} bytes are left after the JSON header and the inputs before it: the body is shorter than the sizes say.`);
    }
    input.data = valuesOf(input.datatype, new Uint8Array(binary.buffer, binary.byteOffset + offset, size));
    offset += size;
  });
  if (offset !== binary.length) {
    throw new InferenceInputError(`the body has ${binary.length} bytes after the JSON header, but the inputs' binary_data_size add up to ${offset}: each binary input needs parameters.binary_data_size, and together they must cover the bytes after the header.`);
  }
}

/**
 * A binary infer request body as its JSON header, each binary input's
 * values in its `data`. `headerLength` is the Inference-Header-Content-Length
 * header (absent: the whole body is the header). Throws `InferenceInputError`.
 */
export function readBinaryBody(body: Buffer, headerLength: string | string[] | undefined, parseJson: ParseJson): unknown {
  const jsonBytes = headerLengthOf(headerLength, body.length);
  const header = parseHeader(body.subarray(0, jsonBytes), parseJson);
  attachBinaryInputs(header, body.subarray(jsonBytes));
  return header;
}

/** Refuses inputs that give `binary_data_size` in a request without binary data (a JSON body). */
export function checkNoBinaryInputs(body: unknown): void {
  const inputs: unknown[] = isObject(body) && Array.isArray(body.inputs) ? body.inputs : [];
  inputs.forEach((input, i) => {
    if (isObject(input) && isObject(input.parameters) && input.parameters.binary_data_size !== undefined) {
      throw new InferenceInputError(`inputs[${i}] gives parameters.binary_data_size but the request has no binary data: send the JSON header's length in bytes in the Inference-Header-Content-Length header, and the tensor bytes right after the header.`);
    }
  });
}

function flag(parameters: unknown, name: string, where: string): boolean | undefined {
  if (parameters === undefined) return undefined;
  if (!isObject(parameters)) throw new InferenceInputError(`${where}.parameters must be an object such as {"${name}": true}.`);
  const value = parameters[name];
  if (value !== undefined && typeof value !== 'boolean') throw new InferenceInputError(`${where}.parameters.${name} is ${JSON.stringify(value)}: expected true or false.`);
  return value;
}

/** Whether the request asks for all outputs in binary (`parameters.binary_data_output`), false when it does not say. */
export function binaryByDefault(body: Json): boolean {
  return flag(body.parameters, 'binary_data_output', 'the request') ?? false;
}

/**
 * Whether a requested output (`outputs[i]` of the request) comes back binary:
 * its `parameters.binary_data` (the extension's name; `binary_data_output`
 * is taken too), else the request's default.
 */
export function outputIsBinary(output: Json, i: number, byDefault: boolean): boolean {
  const where = `outputs[${i}]`;
  return flag(output.parameters, 'binary_data', where) ?? flag(output.parameters, 'binary_data_output', where) ?? byDefault;
}

/** An output of an answer: FP32 values or INT64 labels (held as Int32Array), in JSON or binary. */
export interface ResponseTensor {
  readonly name: string;
  readonly datatype: 'FP32' | 'INT64';
  readonly shape: readonly number[];
  readonly values: Float32Array | Int32Array;
  readonly binary: boolean;
}

/** The little-endian bytes of an output's values in its datatype. */
function bytesOf(tensor: ResponseTensor): Uint8Array {
  const { values } = tensor;
  if (tensor.datatype === 'FP32' && LITTLE_ENDIAN_HOST) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const width = tensor.datatype === 'FP32' ? 4 : 8;
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (width === 4) view.setFloat32(i * 4, values[i], true);
    else view.setBigInt64(i * 8, BigInt(values[i]), true);
  }
  return bytes;
}

/**
 * An answer: `head` (model_name, model_version, id) and the outputs. With no
 * binary output it is a JSON object as before; with any, the bytes of the
 * JSON header and then the binary outputs' values, and the header's length.
 */
export function encodeInferResponse(head: Json, outputs: readonly ResponseTensor[]): { body: Json; headerLength?: undefined } | { body: Buffer; headerLength: number } {
  const binary: Uint8Array[] = [];
  const described = outputs.map(({ name, datatype, shape, values, binary: asBinary }) => {
    if (!asBinary) return { name, datatype, shape, data: Array.from(values) };
    const bytes = bytesOf({ name, datatype, shape, values, binary: asBinary });
    binary.push(bytes);
    return { name, datatype, shape, parameters: { binary_data_size: bytes.length } };
  });
  const json = { ...head, outputs: described };
  if (binary.length === 0) return { body: json };
  const header = Buffer.from(JSON.stringify(json));
  return { body: Buffer.concat([header, ...binary]), headerLength: header.length };
}
