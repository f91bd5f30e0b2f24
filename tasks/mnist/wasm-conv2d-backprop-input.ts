/**
 * A fast `Conv2DBackpropInput` for the wasm backend. The stock wasm kernel is
 * a scalar loop (about 1.2 GFLOP/s measured, ten times slower than the
 * forward convolution), so it dominates CNN training; this one replaces it.
 *
 * The input gradient of a strided convolution is a transposed convolution.
 * Split it by output phase: input row i = s*q + p - padTop receives the
 * filter taps k = s*t + p only, so each of the s*s phases is an ordinary
 * stride-1 correlation of dy with a flipped sub-filter. All phases run as
 * ONE stride-1 conv2d (sub-filters stacked along output channels, short ones
 * zero-padded), and depthToSpace interleaves them back into rows and columns.
 * For stride 1 this is the usual "full correlation with the flipped filter".
 */
import type * as tfjs from '@tensorflow/tfjs';

import { asTensor, toChannelsFirst, toChannelsLast, shapeToChannelsLast } from './kernel-tensors';
import type { TensorFlow } from './tf-backend';
import type { Conv2DGeometry } from './wasm-conv2d-backprop-filter';

interface AxisPlan {
  /** Taps per phase: ceil(filterSize / stride). */
  taps: number;
  padBefore: number;
  padAfter: number;
  /** First row of the interleaved result that is input row 0. */
  start: number;
}

function planAxis(size: number, filterSize: number, stride: number, padStart: number, outSize: number): AxisPlan {
  const taps = Math.ceil(filterSize / stride);
  const firstPhaseRow = Math.floor(padStart / stride);
  const start = padStart - firstPhaseRow * stride;
  const rowsPerPhase = Math.ceil((start + size) / stride);
  const padBefore = taps - 1 - firstPhaseRow;
  const padAfter = Math.max(0, rowsPerPhase + taps - 1 - padBefore - outSize);
  return { taps, padBefore, padAfter, start };
}

/**
 * The gradient of conv2d(x, filter) with respect to x, for NHWC tensors and
 * dilation 1.
 *
 * @param dy gradient of the forward output, [batch, outHeight, outWidth, outChannels]
 * @param filter [filterHeight, filterWidth, inChannels, outChannels]
 * @param inputShape shape of x, [batch, height, width, inChannels]
 */
export function conv2DBackpropInputPhases(
  tf: TensorFlow,
  dy: tfjs.Tensor4D,
  filter: tfjs.Tensor4D,
  inputShape: [number, number, number, number],
  geometry: Conv2DGeometry,
): tfjs.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape,
    geometry.strides,
    1,
    geometry.pad,
    geometry.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outChannels, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, outHeight, outWidth } = info;
  if (dy.shape[0] !== batchSize || dy.shape[1] !== outHeight || dy.shape[2] !== outWidth || dy.shape[3] !== outChannels) {
    throw new Error(
      `Conv2DBackpropInput: dy has shape [${dy.shape.join(', ')}], expected ` +
        `[${batchSize}, ${outHeight}, ${outWidth}, ${outChannels}] for input [${inputShape.join(', ')}] ` +
        `and filter [${filter.shape.join(', ')}]`,
    );
  }
  const rowsPlan = planAxis(inHeight, filterHeight, strideHeight, info.padInfo.top, outHeight);
  const colsPlan = planAxis(inWidth, filterWidth, strideWidth, info.padInfo.left, outWidth);
  const phases = strideHeight * strideWidth;

  return tf.tidy(() => {
    // Sub-filters: [tapsH, tapsW, outChannels, phaseH * phaseW * inChannels],
    // taps flipped so that a correlation computes the transposed convolution.
    const paddedFilter = tf.pad(filter, [
      [0, rowsPlan.taps * strideHeight - filterHeight],
      [0, colsPlan.taps * strideWidth - filterWidth],
      [0, 0],
      [0, 0],
    ]);
    const byPhase = tf.reshape(paddedFilter, [
      rowsPlan.taps,
      strideHeight,
      colsPlan.taps,
      strideWidth,
      inChannels,
      outChannels,
    ]);
    const flipped = tf.reverse(byPhase, [0, 2]);
    const subFilters = tf.reshape(tf.transpose(flipped, [0, 2, 5, 1, 3, 4]), [
      rowsPlan.taps,
      colsPlan.taps,
      outChannels,
      phases * inChannels,
    ]) as tfjs.Tensor4D;

    const dyPadded = tf.pad(dy, [
      [0, 0],
      [rowsPlan.padBefore, rowsPlan.padAfter],
      [colsPlan.padBefore, colsPlan.padAfter],
      [0, 0],
    ]);
    const perPhase = tf.conv2d(dyPadded, subFilters, 1, 'valid');

    let interleaved: tfjs.Tensor4D;
    if (phases === 1) {
      interleaved = perPhase;
    } else if (strideHeight === strideWidth) {
      interleaved = tf.depthToSpace(perPhase, strideHeight, 'NHWC');
    } else {
      const [b, rows, cols] = perPhase.shape;
      const split = tf.reshape(perPhase, [b, rows, cols, strideHeight, strideWidth, inChannels]);
      interleaved = tf.reshape(tf.transpose(split, [0, 1, 3, 2, 4, 5]), [
        b,
        rows * strideHeight,
        cols * strideWidth,
        inChannels,
      ]);
    }
    return tf.slice(interleaved, [0, rowsPlan.start, colsPlan.start, 0], [batchSize, inHeight, inWidth, inChannels]);
  });
}

/** Kernel function with the signature TensorFlow.js expects. */
export function makeConv2DBackpropInputKernel(tf: TensorFlow): tfjs.KernelFunc {
  return ({ inputs, attrs }) => {
    const { dy, filter } = inputs as tfjs.Conv2DBackpropInputInputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      attrs as unknown as tfjs.Conv2DBackpropInputAttrs;
    return tf.tidy(() => {
      const filterT = asTensor<tfjs.Rank.R4>(tf, filter, 'filter');
      const geometry = { strides, pad, dimRoundingMode };
      if (dataFormat === 'NCHW') {
        const dyT = toChannelsLast(tf, asTensor<tfjs.Rank.R4>(tf, dy, 'dy'));
        const dx = conv2DBackpropInputPhases(tf, dyT, filterT, shapeToChannelsLast(inputShape), geometry);
        return toChannelsFirst(tf, dx);
      }
      return conv2DBackpropInputPhases(tf, asTensor<tfjs.Rank.R4>(tf, dy, 'dy'), filterT, inputShape, geometry);
    });
  };
}

/**
 * Registers the kernel for `backendName` (default 'wasm'), replacing the
 * stock kernel. Call after the backend is set.
 */
export function registerWasmConv2DBackpropInput(tf: TensorFlow, backendName = 'wasm'): void {
  if (tf.getKernel('Conv2DBackpropInput', backendName) !== undefined) {
    tf.unregisterKernel('Conv2DBackpropInput', backendName);
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName,
    kernelFunc: makeConv2DBackpropInputKernel(tf),
  });
}
