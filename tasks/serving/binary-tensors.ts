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
 * alike. A plain JSON body gets the same treatment for its flat numeric
 * `inputs[i].data` lists (`readJsonInferBody`): they are read from the bytes
 * straight into Float64Arrays, the costliest part of a JSON request otherwise
 * (JSON.parse building a list of 25,088 numbers for 32 images).
 */
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import { InferenceInputError } from './errors';

/** The request and response header giving the JSON header's length in bytes. */
export const INFERENCE_HEADER_LENGTH = 'inference-header-content-length';
/** The extension's name in the server metadata (`GET /v2`). */
export const BINARY_TENSOR_EXTENSION = 'binary_tensor_data';

/** Parses JSON text the way the server parses JSON bodies (throws on bad JSON). */
export type ParseJson = (text: Buffer | string) => unknown;

/** Bytes per value of the datatypes a binary input may have. */
const VALUE_BYTES: Readonly<Record<string, number>> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

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

/** Little-endian FP32 bytes as a Float32Array (a copy, so it is aligned). */
function float32Values(bytes: Uint8Array): Float32Array {
  const values = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(values.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * 4, true);
  }
  return values;
}

/** An input's bytes as its values: UINT8 a view, FP32 a Float32Array; other datatypes stay bytes (the adapter refuses them). */
function valuesOf(datatype: unknown, bytes: Uint8Array): ArrayLike<number> {
  return datatype === 'FP32' ? float32Values(bytes) : bytes;
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

// --- JSON bodies: flat numeric `data` lists read straight from the bytes -------------------------

const DATA_KEY = Buffer.from('"data"');
const [SPACE, TAB, LF, CR, COMMA, MINUS, DOT, ZERO, NINE, OPEN, CLOSE, COLON] = [0x20, 0x09, 0x0a, 0x0d, 0x2c, 0x2d, 0x2e, 0x30, 0x39, 0x5b, 0x5d, 0x3a];
/** 10^0..10^22, each exact in a double. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
/** Stands in for a list taken out of the text; random, so no client can send it. */
const PLACEHOLDER = `\u0000tensor-data-${randomBytes(8).toString('hex')}-`;

let numberEnd = 0;
/** Where lists are read before being copied out; kept between requests up to 64 Ki values (512 KiB). */
let scratch = new Float64Array(4096);
const SCRATCH_KEPT = 65_536;

function skipSpace(b: Buffer, i: number): number {
  while (b[i] === SPACE || b[i] === LF || b[i] === CR || b[i] === TAB) i++;
  return i;
}

/**
 * The JSON number at `start` (its end in `numberEnd`), NaN when there is
 * none or it has more than 15 digits or a power of ten beyond 10^±22. Within
 * those bounds m / 10^k (or m * 10^k) is one operation on exact values, so
 * it is correctly rounded: the value JSON.parse gives (Clinger's fast path).
 */
function numberAt(b: Buffer, start: number): number {
  const negative = b[start] === MINUS;
  const first = negative ? start + 1 : start;
  let i = first;
  let mantissa = 0;
  let c = b[i];
  for (; c >= ZERO && c <= NINE; c = b[++i]) mantissa = mantissa * 10 + (c - ZERO);
  const digits = i - first;
  if (digits === 0 || digits > 15 || (digits > 1 && b[first] === ZERO)) return NaN;
  if (c === DOT || c === 0x65 || c === 0x45) return scaledNumberAt(b, i, mantissa, digits, negative);
  numberEnd = i;
  return negative ? -mantissa : mantissa;
}

/** The rest of a number from its `.` or exponent at `i`, after an integer part of `digits` digits read as `mantissa`. */
function scaledNumberAt(b: Buffer, i: number, mantissa: number, digits: number, negative: boolean): number {
  let c = b[i];
  let scale = 0;
  if (c === DOT) {
    const from = ++i;
    for (c = b[i]; c >= ZERO && c <= NINE; c = b[++i]) mantissa = mantissa * 10 + (c - ZERO);
    if (i === from) return NaN;
    digits += i - from;
    scale = from - i;
  }
  if (c === 0x65 || c === 0x45) {
    const sign = b[i + 1] === MINUS ? -1 : 1;
    const from = b[i + 1] === MINUS || b[i + 1] === 0x2b ? i + 2 : i + 1;
    let exponent = 0;
    for (i = from, c = b[i]; c >= ZERO && c <= NINE && exponent < 1000; c = b[++i]) exponent = exponent * 10 + (c - ZERO);
    if (i === from) return NaN;
    scale += sign * exponent;
  }
  if (digits > 15 || scale < -22 || scale > 22) return NaN;
  numberEnd = i;
  const magnitude = scale < 0 ? mantissa / POWERS_OF_TEN[-scale] : mantissa * POWERS_OF_TEN[scale];
  return negative ? -magnitude : magnitude;
}

/** The flat list of numbers whose `[` is at `open`, and the index after its `]`; undefined for anything else (nested, empty, null...). */
function numberList(b: Buffer, open: number): { values: Float64Array; end: number } | undefined {
  const list = scanList(b, open);
  if (scratch.length > SCRATCH_KEPT) scratch = new Float64Array(4096);
  return list;
}

function scanList(b: Buffer, open: number): { values: Float64Array; end: number } | undefined {
  let values = scratch;
  let count = 0;
  for (let i = skipSpace(b, open + 1); ; ) {
    const value = numberAt(b, i);
    if (value !== value) return undefined;
    if (count === values.length) {
      scratch = new Float64Array(values.length * 2);
      scratch.set(values);
      values = scratch;
    }
    values[count++] = value;
    i = numberEnd;
    // Whitespace is every byte <= 0x20; most lists have none.
    if (b[i] <= SPACE) i = skipSpace(b, i);
    if (b[i] === CLOSE) return { values: values.slice(0, count), end: i + 1 };
    if (b[i] !== COMMA) return undefined;
    if (b[++i] <= SPACE) i = skipSpace(b, i);
  }
}

/** Puts list `n` where its placeholder landed; true only if every list landed as some `inputs[i].data`. */
function placeLists(body: unknown, lists: Float64Array[]): boolean {
  const inputs: unknown[] = isObject(body) && Array.isArray(body.inputs) ? body.inputs : [];
  let placed = 0;
  for (const input of inputs) {
    if (!isObject(input) || typeof input.data !== 'string' || !input.data.startsWith(PLACEHOLDER)) continue;
    const list = lists[Number(input.data.slice(PLACEHOLDER.length))];
    if (!list) return false;
    input.data = list;
    placed++;
  }
  return placed === lists.length;
}

/** The body with its flat numeric `"data": [...]` lists taken out of the text and read directly; undefined when that does not apply. */
function parseWithDataLists(body: Buffer, parseJson: ParseJson): unknown {
  const pieces: string[] = [];
  const lists: Float64Array[] = [];
  let copied = 0;
  for (let at = body.indexOf(DATA_KEY); at >= 0; at = body.indexOf(DATA_KEY, at + DATA_KEY.length)) {
    const colon = skipSpace(body, at + DATA_KEY.length);
    const open = body[colon] === COLON ? skipSpace(body, colon + 1) : -1;
    const list = open >= 0 && body[open] === OPEN ? numberList(body, open) : undefined;
    if (!list) continue;
    // Splitting at ASCII bytes never cuts a UTF-8 sequence.
    pieces.push(body.toString('utf8', copied, open), JSON.stringify(`${PLACEHOLDER}${lists.length}`));
    lists.push(list.values);
    copied = list.end;
    at = list.end - DATA_KEY.length;
  }
  if (lists.length === 0) return undefined;
  pieces.push(body.toString('utf8', copied));
  let parsed: unknown;
  try {
    parsed = parseJson(pieces.join(''));
  } catch {
    return undefined; // the whole body is parsed again, for the error's own words
  }
  return placeLists(parsed, lists) ? parsed : undefined;
}

/**
 * A JSON infer request body, parsed as `parseJson` would, except that flat
 * numeric `inputs[i].data` lists arrive as Float64Arrays of the same values.
 * Anything unusual (nested lists, nulls, a `"data"` key elsewhere) is
 * parsed by `parseJson` alone, so errors read as before.
 */
export function readJsonInferBody(body: Buffer, parseJson: ParseJson): unknown {
  const parsed = parseWithDataLists(body, parseJson) ?? parseJson(body);
  checkNoBinaryInputs(parsed);
  return parsed;
}
