/**
 * Export of a TensorFlow.js layers model (a chain of layers, as dagwright
 * trains) to ONNX: Conv2D, MaxPooling2D, Flatten, Dense, Dropout (an
 * identity at inference) and the activations relu, sigmoid, tanh, softmax
 * and linear. The graph takes NHWC images like the TF.js model, works in
 * NCHW inside (as ONNX's Conv does), and gives two outputs: the last
 * layer's ("probabilities") and the one before it ("embedding", what drift's
 * embedding MMD compares). `signature.json` says so.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { DagwrightError } from '../../src';
import { encodeOnnxModel, ONNX_FLOAT, type OnnxGraph, type OnnxInitializer, type OnnxNode } from './onnx-proto';
import type { ModelSignature } from './signature';

export const ONNX_OPSET = 13;
export const EMBEDDING_OUTPUT = 'embedding';
export const PROBABILITIES_OUTPUT = 'probabilities';

/** The model has a layer or setting the exporter does not translate. */
export class OnnxExportError extends DagwrightError {}

interface Flow {
  /** The current tensor's name in the graph. */
  name: string;
  /** Its shape without the batch, in TF.js (NHWC) terms. */
  shape: number[];
  /** Whether the graph holds it as NCHW (4-D tensors between convolutions). */
  nchw: boolean;
}

interface Builder {
  readonly nodes: OnnxNode[];
  readonly initializers: OnnxInitializer[];
  node(opType: string, input: string[], output: string, attribute?: OnnxNode['attribute']): string;
  weight(name: string, dims: number[], values: Float32Array): string;
}

function builder(): Builder {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  return {
    nodes,
    initializers,
    node: (opType, input, output, attribute) => (nodes.push({ opType, name: output, input, output: [output], attribute }), output),
    weight: (name, dims, values) => (initializers.push({ name, dims, values }), name),
  };
}

/** TF's "same" padding: the total split with the smaller half first. */
function samePads(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function spatial(layer: tfjs.layers.Layer, flow: Flow, kernel: [number, number], strides: [number, number], padding: string) {
  const [h, w] = flow.shape;
  const [pt, pb] = padding === 'same' ? samePads(h, kernel[0], strides[0]) : [0, 0];
  const [pl, pr] = padding === 'same' ? samePads(w, kernel[1], strides[1]) : [0, 0];
  if (padding !== 'same' && padding !== 'valid') throw new OnnxExportError(`layer "${layer.name}": padding "${padding}" cannot be exported (use "same" or "valid").`);
  const outH = Math.floor((h + pt + pb - kernel[0]) / strides[0]) + 1;
  const outW = Math.floor((w + pl + pr - kernel[1]) / strides[1]) + 1;
  return { pads: [pt, pl, pb, pr], outH, outW };
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number]);

function toNchw(b: Builder, flow: Flow): Flow {
  return flow.nchw || flow.shape.length !== 3 ? flow : { ...flow, name: b.node('Transpose', [flow.name], `${flow.name}_nchw`, [{ name: 'perm', ints: [0, 3, 1, 2] }]), nchw: true };
}

function toNhwc(b: Builder, flow: Flow): Flow {
  return flow.nchw ? { ...flow, name: b.node('Transpose', [flow.name], `${flow.name}_nhwc`, [{ name: 'perm', ints: [0, 2, 3, 1] }]), nchw: false } : flow;
}

function activation(b: Builder, layer: tfjs.layers.Layer, flow: Flow, name: string | undefined): Flow {
  const ops: Record<string, string> = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh' };
  if (name === undefined || name === 'linear') return flow;
  if (name === 'softmax') {
    if (flow.shape.length !== 1) throw new OnnxExportError(`layer "${layer.name}": softmax over a ${flow.shape.length + 1}-D tensor cannot be exported.`);
    return { ...flow, name: b.node('Softmax', [flow.name], `${layer.name}_softmax`, [{ name: 'axis', i: -1 }]) };
  }
  if (!(name in ops)) throw new OnnxExportError(`layer "${layer.name}": activation "${name}" cannot be exported (relu, sigmoid, tanh, softmax, linear can).`);
  return { ...flow, name: b.node(ops[name], [flow.name], `${layer.name}_${name}`) };
}

/** OIHW from TF's HWIO kernel. */
function convKernel(kernel: Float32Array, [kh, kw, cin, cout]: number[]): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = kernel[((y * kw + x) * cin + i) * cout + o];
  return out;
}

function layerWeights(layer: tfjs.layers.Layer): { values: Float32Array; shape: number[] }[] {
  return layer.getWeights().map((t) => ({ values: t.dataSync() as Float32Array, shape: t.shape }));
}

function exportLayer(b: Builder, layer: tfjs.layers.Layer, flow: Flow): Flow {
  const config = layer.getConfig() as Record<string, unknown>;
  switch (layer.getClassName()) {
    case 'Conv2D': {
      if (config.dataFormat !== 'channelsLast' || pair(config.dilationRate ?? 1).some((d) => d !== 1)) throw new OnnxExportError(`layer "${layer.name}": only channels-last, undilated convolutions can be exported.`);
      const [kernel, bias] = layerWeights(layer);
      const input = toNchw(b, flow);
      const strides = pair(config.strides);
      const { pads, outH, outW } = spatial(layer, flow, [kernel.shape[0], kernel.shape[1]], strides, config.padding as string);
      const w = b.weight(`${layer.name}.kernel`, [kernel.shape[3], kernel.shape[2], kernel.shape[0], kernel.shape[1]], convKernel(kernel.values, kernel.shape));
      const inputs = [input.name, w, ...(bias ? [b.weight(`${layer.name}.bias`, bias.shape, bias.values)] : [])];
      const attrs = [{ name: 'kernel_shape', ints: [kernel.shape[0], kernel.shape[1]] }, { name: 'strides', ints: strides }, { name: 'pads', ints: pads }];
      const out = { name: b.node('Conv', inputs, layer.name, attrs), shape: [outH, outW, kernel.shape[3]], nchw: true };
      return activation(b, layer, out, config.activation as string | undefined);
    }
    case 'MaxPooling2D': {
      const input = toNchw(b, flow);
      const kernel = pair(config.poolSize);
      const strides = pair(config.strides ?? config.poolSize);
      const { pads, outH, outW } = spatial(layer, flow, kernel, strides, config.padding as string);
      const attrs = [{ name: 'kernel_shape', ints: kernel }, { name: 'strides', ints: strides }, { name: 'pads', ints: pads }];
      return { name: b.node('MaxPool', [input.name], layer.name, attrs), shape: [outH, outW, flow.shape[2]], nchw: true };
    }
    case 'Flatten': {
      const input = toNhwc(b, flow); // TF.js flattens in NHWC order
      return { name: b.node('Flatten', [input.name], layer.name, [{ name: 'axis', i: 1 }]), shape: [flow.shape.reduce((a, d) => a * d, 1)], nchw: false };
    }
    case 'Dropout':
      return flow;
    case 'Dense': {
      if (flow.shape.length !== 1) throw new OnnxExportError(`layer "${layer.name}": a dense layer on a ${flow.shape.length + 1}-D tensor cannot be exported; flatten first.`);
      const [kernel, bias] = layerWeights(layer);
      const w = b.weight(`${layer.name}.kernel`, kernel.shape, kernel.values);
      const out = bias
        ? b.node('Gemm', [flow.name, w, b.weight(`${layer.name}.bias`, bias.shape, bias.values)], layer.name)
        : b.node('MatMul', [flow.name, w], layer.name);
      return activation(b, layer, { name: out, shape: [kernel.shape[1]], nchw: false }, config.activation as string | undefined);
    }
    default:
      throw new OnnxExportError(`layer "${layer.name}" (${layer.getClassName()}) cannot be exported to ONNX; the exporter knows Conv2D, MaxPooling2D, Flatten, Dropout and Dense.`);
  }
}

/** The ONNX file and signature of a TF.js classifier taking [n, h, w, c] images in [0, 1]; throws `OnnxExportError` for what it cannot translate. */
export function exportToOnnx(model: tfjs.LayersModel, options: { classLabels?: readonly string[]; producerVersion: string }): { onnx: Uint8Array; signature: ModelSignature } {
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  if (model.inputs.length !== 1 || inputShape.length !== 3) throw new OnnxExportError(`model "${model.name}" must take one image input [n, height, width, channels], it takes ${JSON.stringify(model.inputs.map((i) => i.shape))}.`);
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  if (layers.length < 2) throw new OnnxExportError(`model "${model.name}" has ${layers.length} layer(s): the export needs a penultimate layer for the embedding.`);
  const b = builder();
  let flow: Flow = { name: 'image', shape: inputShape, nchw: false };
  let penultimate = flow;
  for (const layer of layers) {
    penultimate = flow;
    flow = exportLayer(b, layer, flow);
  }
  if (flow.shape.length !== 1) throw new OnnxExportError(`model "${model.name}" ends in a ${flow.shape.length + 1}-D tensor: expected class scores [n, classes].`);
  let embedding = toNhwc(b, penultimate);
  if (embedding.shape.length > 1) embedding = { ...embedding, name: b.node('Flatten', [embedding.name], `${embedding.name}_flat`, [{ name: 'axis', i: 1 }]) };
  b.node('Identity', [embedding.name], EMBEDDING_OUTPUT);
  b.node('Identity', [flow.name], PROBABILITIES_OUTPUT);
  const classes = flow.shape[0];
  const embeddingDim = penultimate.shape.reduce((a, d) => a * d, 1);
  const graph: OnnxGraph = {
    name: model.name,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: [{ name: 'image', elemType: ONNX_FLOAT, shape: ['batch', ...inputShape] }],
    outputs: [
      { name: PROBABILITIES_OUTPUT, elemType: ONNX_FLOAT, shape: ['batch', classes] },
      { name: EMBEDDING_OUTPUT, elemType: ONNX_FLOAT, shape: ['batch', embeddingDim] },
    ],
  };
  const onnx = encodeOnnxModel(graph, { producer: 'dagwright', producerVersion: options.producerVersion, opset: ONNX_OPSET, doc: `exported from the TensorFlow.js model "${model.name}"` });
  const signature: ModelSignature = {
    input: { name: 'image', shape: inputShape, datatype: 'float32', layout: 'NHWC' },
    scaling: { divide: 255, mean: 0, std: 1 },
    outputs: [PROBABILITIES_OUTPUT, EMBEDDING_OUTPUT],
    scores: { output: PROBABILITIES_OUTPUT, kind: 'probabilities' },
    classLabels: options.classLabels ? [...options.classLabels] : Array.from({ length: classes }, (_, i) => String(i)),
    embedding: EMBEDDING_OUTPUT,
  };
  return { onnx, signature };
}
