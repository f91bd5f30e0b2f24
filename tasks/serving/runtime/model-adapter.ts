/**
 * What the generic server needs to know about a kind of model: the tensors
 * it declares (Open Inference Protocol metadata), how request inputs become
 * the model's input, and how an image is kept in the prediction log. The
 * server itself knows no shapes; an adapter does (image-adapter.ts; MNIST's
 * is tasks/mnist/serving-adapter.ts). Without one, the server serves an image
 * classifier shaped like the model it loads.
 */

/** A tensor in model metadata: -1 marks the batch dimension. */
export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

/** The inputs of one request, decoded and checked. */
export interface DecodedInputs {
  /** Images in the request. */
  readonly count: number;
  /** The model's input, `count * itemSize` values, row-major. */
  readonly features: Float32Array;
  /** The same images as uint8 0-255, for the prediction log. */
  readonly pixels: Uint8Array;
}

/** An Open Inference Protocol input tensor as a client sends it. */
export interface RequestTensor {
  readonly name?: unknown;
  readonly shape?: unknown;
  readonly datatype?: unknown;
  /** A (nested) list of numbers, or a typed array of them (a binary input, or a JSON list read from the bytes). */
  readonly data?: unknown;
}

/**
 * The served model's own input (an ONNX version's signature input): requests may name it instead
 * of the adapter's input, in its shape and layout, with the same pixel values.
 */
export interface ModelInput {
  readonly name: string;
  /** One item's shape in `layout`, e.g. [1, 28, 28] for NCHW. */
  readonly shape: readonly number[];
  readonly layout: 'NCHW' | 'NHWC';
}

export interface ModelAdapter {
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** The model's input shape for one item, e.g. [28, 28, 1]. */
  readonly itemShape: readonly number[];
  /** Values per item (the product of `itemShape`). */
  readonly itemSize: number;
  /** Classes the model scores. */
  readonly classes: number;
  /** One item's shape in the prediction log, e.g. [28, 28]. */
  readonly logShape: readonly number[];
  /** Decodes the `inputs` of a V2 request (a tensor named as the adapter's input or as `modelInput`); throws `InferenceInputError`. */
  decodeTensors(inputs: readonly RequestTensor[], modelInput?: ModelInput): DecodedInputs;
  /** Decodes MLflow's `inputs`/`instances` payload (a nested array, or a tensor named as either input); throws `InferenceInputError`. */
  decodeInstances(instances: unknown, datatype: string, modelInput?: ModelInput): DecodedInputs;
  /** Why a model with these input and output shapes (batch dim null) cannot be served, or undefined when it can. */
  incompatibility(inputShape: readonly (number | null)[], outputShape: readonly (number | null)[]): string | undefined;
}
