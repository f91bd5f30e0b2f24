/**
 * Helpers shared by the kernels in this folder that are written with
 * TensorFlow.js ops: turning kernel inputs into tensors and reading the
 * convolution geometry from kernel attributes.
 */
import type * as tfjs from '@tensorflow/tfjs';

import type { TensorFlow } from '../tensorflow';
import { KernelError } from '../errors';

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Padding as kernels receive it. */
export type Conv2DPad = 'valid' | 'same' | number | ExplicitPadding;

/** Rounding mode for numeric padding, as kernels receive it. */
export type DimRoundingMode = 'floor' | 'round' | 'ceil';

/**
 * A tensor view of a kernel input. Kernel inputs are `TensorInfo`s; the view
 * shares their data and holds its own reference to it, so disposing the view
 * (a surrounding `tf.tidy` does it) leaves the input intact.
 */
export function asTensor<R extends tfjs.Rank>(
  tf: TensorFlow,
  info: tfjs.TensorInfo | undefined,
  name: string,
): tfjs.Tensor<R> {
  if (info === undefined) throw new KernelError(`Kernel input '${name}' is missing`);
  const engine = tf.engine();
  // makeTensorFromTensorInfo tracks the view but, being meant for fresh
  // backend outputs, does not count a reference on the data: add it.
  const view = engine.makeTensorFromTensorInfo(info) as tfjs.Tensor<R>;
  engine.backend.incRef(info.dataId);
  return view;
}

/** NCHW -> NHWC. */
export function toChannelsLast(tf: TensorFlow, t: tfjs.Tensor4D): tfjs.Tensor4D {
  return tf.transpose(t, [0, 2, 3, 1]);
}

/** NHWC -> NCHW. */
export function toChannelsFirst(tf: TensorFlow, t: tfjs.Tensor4D): tfjs.Tensor4D {
  return tf.transpose(t, [0, 3, 1, 2]);
}

/** An NCHW shape as the equivalent NHWC shape. */
export function shapeToChannelsLast(
  shape: [number, number, number, number],
): [number, number, number, number] {
  return [shape[0], shape[2], shape[3], shape[1]];
}
