/**
 * `Conv2DBackpropFilter` for the wasm backend, which does not ship it (without
 * it, training any CNN fails with "Kernel 'Conv2DBackpropFilter' not
 * registered for backend 'wasm'").
 *
 * The filter gradient
 *   dW[kh, kw, ci, co] = sum over b, i, j of xPadded[b, i*s + kh, j*s + kw, ci] * dy[b, i, j, co]
 * is itself a convolution once batch and channels swap roles: x transposed to
 * [inChannels, height, width, batch] convolved with dy transposed to
 * [outHeight, outWidth, batch, outChannels] used as the filter, with dilation
 * equal to the forward stride, gives [inChannels, kh, kw, outChannels].
 * That runs in the backend's XNNPACK convolution (12-15 GFLOP/s measured).
 *
 * The textbook im2col(x)^T . dy form (strided slices, one concat, one matMul)
 * computes the same numbers but measured 0.2 GFLOP/s here: the wasm backend's
 * StridedSlice and Concat kernels and its transposed matMul are scalar loops.
 */
import type * as tfjs from '@tensorflow/tfjs';

import { asTensor, type Conv2DPad, type DimRoundingMode, toChannelsLast } from './kernel-tensors';
import type { TensorFlow } from '../tensorflow';
import { KernelError } from '../errors';

export interface Conv2DGeometry {
  strides: [number, number] | number;
  pad: Conv2DPad;
  dimRoundingMode?: DimRoundingMode;
}

/**
 * The gradient of conv2d(x, filter) with respect to the filter, for NHWC
 * tensors and dilation 1.
 *
 * @param x input of the forward convolution, [batch, height, width, inChannels]
 * @param dy gradient of the forward output, [batch, outHeight, outWidth, outChannels]
 * @param filterShape [filterHeight, filterWidth, inChannels, outChannels]
 */
export function conv2DBackpropFilter(
  tf: TensorFlow,
  x: tfjs.Tensor4D,
  dy: tfjs.Tensor4D,
  filterShape: [number, number, number, number],
  geometry: Conv2DGeometry,
): tfjs.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    filterShape,
    geometry.strides,
    1,
    geometry.pad,
    geometry.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { top, left } = info.padInfo;
  if (dy.shape[0] !== batchSize || dy.shape[1] !== outHeight || dy.shape[2] !== outWidth || dy.shape[3] !== outChannels) {
    throw new KernelError(
      `Conv2DBackpropFilter: dy has shape [${dy.shape.join(', ')}], expected ` +
        `[${batchSize}, ${outHeight}, ${outWidth}, ${outChannels}] for x [${x.shape.join(', ')}] ` +
        `and filter [${filterShape.join(', ')}]`,
    );
  }
  // Rows (columns) of the padded input that some output pixel reads.
  const rowsRead = (outHeight - 1) * strideHeight + filterHeight;
  const colsRead = (outWidth - 1) * strideWidth + filterWidth;
  const bottom = rowsRead - top - inHeight;
  const right = colsRead - left - inWidth;

  return tf.tidy(() => {
    // Trailing rows or columns that no output reads (possible with 'valid'
    // or numeric padding) must go, since padding cannot be negative.
    const used =
      bottom < 0 || right < 0
        ? tf.slice(x, [0, 0, 0, 0], [batchSize, inHeight + Math.min(bottom, 0), inWidth + Math.min(right, 0), inChannels])
        : x;
    const xT = tf.transpose(used, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    const gradient = tf.conv2d(
      xT,
      dyT,
      1,
      [
        [0, 0],
        [top, Math.max(bottom, 0)],
        [left, Math.max(right, 0)],
        [0, 0],
      ],
      'NHWC',
      [strideHeight, strideWidth],
    );
    return tf.transpose(gradient, [1, 2, 0, 3]);
  });
}

/** Kernel function with the signature TensorFlow.js expects. */
export function makeConv2DBackpropFilterKernel(tf: TensorFlow): tfjs.KernelFunc {
  return ({ inputs, attrs }) => {
    const { x, dy } = inputs as tfjs.Conv2DBackpropFilterInputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as tfjs.Conv2DBackpropFilterAttrs;
    return tf.tidy(() => {
      let xT = asTensor<tfjs.Rank.R4>(tf, x, 'x');
      let dyT = asTensor<tfjs.Rank.R4>(tf, dy, 'dy');
      if (dataFormat === 'NCHW') {
        xT = toChannelsLast(tf, xT);
        dyT = toChannelsLast(tf, dyT);
      }
      // The filter layout does not depend on dataFormat.
      return conv2DBackpropFilter(tf, xT, dyT, filterShape, { strides, pad, dimRoundingMode });
    });
  };
}

/**
 * Registers the kernel for `backendName` (default 'wasm'), replacing any
 * kernel registered there under that name. Call after the backend is set.
 */
export function registerWasmConv2DBackpropFilter(tf: TensorFlow, backendName = 'wasm'): void {
  if (tf.getKernel('Conv2DBackpropFilter', backendName) !== undefined) {
    tf.unregisterKernel('Conv2DBackpropFilter', backendName);
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: makeConv2DBackpropFilterKernel(tf),
  });
}
