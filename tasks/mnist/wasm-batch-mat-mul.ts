/**
 * `BatchMatMul` for the wasm backend with transposed operands made explicit.
 *
 * The stock kernel multiplies at about 14 GFLOP/s when neither operand is
 * transposed but falls to about 0.8 GFLOP/s with transposeA or transposeB,
 * and every matMul gradient (dense layers) uses a transposed operand. This
 * wrapper transposes such an operand with the Transpose kernel (a copy,
 * memory-bound) and then calls the stock kernel untransposed.
 */
import type * as tfjs from '@tensorflow/tfjs';

import { asTensor } from './kernel-tensors';
import type { TensorFlow } from './tf-backend';

const wrappers = new WeakSet<tfjs.KernelFunc>();

function swapLastTwo(tf: TensorFlow, t: tfjs.Tensor): tfjs.Tensor {
  const perm = t.shape.map((_, i) => i);
  const rank = perm.length;
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return tf.transpose(t, perm);
}

/** Wraps the stock kernel function; untransposed products go straight through. */
export function makeBatchMatMulKernel(tf: TensorFlow, stock: tfjs.KernelFunc): tfjs.KernelFunc {
  const kernelFunc: tfjs.KernelFunc = (args) => {
    const { a, b } = args.inputs as tfjs.BatchMatMulInputs;
    const { transposeA, transposeB } = args.attrs as unknown as tfjs.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return stock(args);
    const explicit = (info: tfjs.TensorInfo | undefined, name: string, transpose: boolean) =>
      transpose ? tf.tidy(() => swapLastTwo(tf, asTensor(tf, info, name))) : undefined;
    const aT = explicit(a, 'a', transposeA);
    const bT = explicit(b, 'b', transposeB);
    try {
      return stock({
        ...args,
        inputs: { a: aT ?? a, b: bT ?? b },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      aT?.dispose();
      bT?.dispose();
    }
  };
  wrappers.add(kernelFunc);
  return kernelFunc;
}

/**
 * Wraps the BatchMatMul kernel registered for `backendName` (default 'wasm').
 * Call after the backend is set; calling again has no further effect.
 */
export function registerWasmBatchMatMul(tf: TensorFlow, backendName = 'wasm'): void {
  const stock = tf.getKernel('BatchMatMul', backendName);
  if (stock === undefined) {
    throw new Error(`No BatchMatMul kernel is registered for backend '${backendName}' to wrap`);
  }
  if (wrappers.has(stock.kernelFunc)) return;
  tf.unregisterKernel('BatchMatMul', backendName);
  tf.registerKernel({ ...stock, kernelFunc: makeBatchMatMulKernel(tf, stock.kernelFunc) });
}
