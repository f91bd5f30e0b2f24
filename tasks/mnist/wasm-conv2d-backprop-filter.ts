/**
 * `Conv2DBackpropFilter` for the wasm backend, which does not ship it (without
 * it, training any CNN fails with "Kernel 'Conv2DBackpropFilter' not
 * registered for backend 'wasm'").
 *
 * The filter gradient is im2col(x)^T . dy: for each filter tap (kh, kw) take
 * the strided slice of the padded input that this tap sees, concatenate the
 * slices along channels (the im2col matrix, one row per output pixel), and
 * multiply by dy with one matMul. All of it runs in the backend's own fast
 * kernels (slice, concat, XNNPACK-style matMul).
 */
import type * as tfjs from '@tensorflow/tfjs';

import {
  asTensor,
  type Conv2DPad,
  type DimRoundingMode,
  toChannelsLast,
} from './kernel-tensors';
import type { TensorFlow } from './tf-backend';

export interface Conv2DGeometry {
  strides: [number, number] | number;
  pad: Conv2DPad;
  dimRoundingMode?: DimRoundingMode;
}

/**
 * The gradient of conv2d(x, filter) with respect to the filter, for NHWC
 * tensors and dilation 1, computed as im2col(x)^T . dy.
 *
 * @param x input of the forward convolution, [batch, height, width, inChannels]
 * @param dy gradient of the forward output, [batch, outHeight, outWidth, outChannels]
 * @param filterShape [filterHeight, filterWidth, inChannels, outChannels]
 */
export function conv2DBackpropFilterIm2col(
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
  const { batchSize, inChannels, outChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const { top, bottom, left, right } = info.padInfo;
  if (dy.shape[1] !== outHeight || dy.shape[2] !== outWidth || dy.shape[3] !== outChannels) {
    throw new Error(
      `Conv2DBackpropFilter: dy has shape [${dy.shape.join(', ')}], expected ` +
        `[${batchSize}, ${outHeight}, ${outWidth}, ${outChannels}] for x [${x.shape.join(', ')}] ` +
        `and filter [${filterShape.join(', ')}]`,
    );
  }

  return tf.tidy(() => {
    const padded =
      top === 0 && bottom === 0 && left === 0 && right === 0
        ? x
        : tf.pad(x, [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ]);
    // Rows/columns of the padded input touched by one tap across all outputs.
    const spanH = (outHeight - 1) * strideHeight + 1;
    const spanW = (outWidth - 1) * strideWidth + 1;
    const strided = strideHeight !== 1 || strideWidth !== 1;
    const taps: tfjs.Tensor4D[] = [];
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        taps.push(
          strided
            ? (tf.stridedSlice(
                padded,
                [0, kh, kw, 0],
                [batchSize, kh + spanH, kw + spanW, inChannels],
                [1, strideHeight, strideWidth, 1],
              ) as tfjs.Tensor4D)
            : tf.slice(padded, [0, kh, kw, 0], [batchSize, outHeight, outWidth, inChannels]),
        );
      }
    }
    // Column (kh * filterWidth + kw) * inChannels + c matches the filter's
    // [filterHeight, filterWidth, inChannels, outChannels] memory order.
    const rows = batchSize * outHeight * outWidth;
    const columns = tf.reshape(taps.length === 1 ? taps[0] : (tf.concat(taps, 3) as tfjs.Tensor4D), [
      rows,
      filterHeight * filterWidth * inChannels,
    ]);
    const gradient = tf.matMul(columns, tf.reshape(dy, [rows, outChannels]), true, false);
    return tf.reshape(gradient, filterShape);
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
      return conv2DBackpropFilterIm2col(tf, xT, dyT, filterShape, { strides, pad, dimRoundingMode });
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
