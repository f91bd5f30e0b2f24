/**
 * `BatchMatMul` for the wasm backend with transposed operands made explicit.
 *
 * The stock kernel multiplies at about 14 GFLOP/s when neither operand is
 * transposed but falls to about 0.8 GFLOP/s with transposeA or transposeB,
 * and every matMul gradient (dense layers) uses a transposed operand. This
 * wrapper calls the stock kernel untransposed, on operands transposed by the
 * Transpose kernel (a memory-bound copy).
 *
 * The stock kernel repacks its second operand on every call with new data
 * (XNNPACK fully-connected weights), so C = op(A) op(B) may be cheaper as
 * C = (op(B)^T op(A)^T)^T: e.g. the input gradient of a dense layer, dy W^T,
 * computed as (W dy^T)^T copies the small dy instead of the large W twice.
 * The wrapper picks the form that copies fewer elements.
 */
import type * as tfjs from '@tensorflow/tfjs';

import { asTensor } from './kernel-tensors';
import type { TensorFlow } from '../tensorflow';
import { KernelError } from '../errors';

const wrappers = new WeakSet<tfjs.KernelFunc>();

function swapLastTwo(tf: TensorFlow, t: tfjs.Tensor): tfjs.Tensor {
  const perm = t.shape.map((_, i) => i);
  const rank = perm.length;
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return tf.transpose(t, perm);
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Elements copied by the direct form (transposes, then the packing of the
 * second operand) and by the swapped form (its transposes, packing of A,
 * transposing the result).
 */
export function matMulCopyCosts(
  aShape: number[],
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
): { direct: number; swapped: number } {
  const a = sizeOf(aShape);
  const b = sizeOf(bShape);
  const rows = aShape[aShape.length - (transposeA ? 1 : 2)];
  const cols = bShape[bShape.length - (transposeB ? 2 : 1)];
  const batch = Math.max(sizeOf(aShape.slice(0, -2)), sizeOf(bShape.slice(0, -2)));
  const c = batch * rows * cols;
  return {
    direct: (transposeA ? a : 0) + (transposeB ? b : 0) + b,
    swapped: (transposeB ? 0 : b) + (transposeA ? 0 : a) + a + c,
  };
}

/** Wraps the stock kernel function; untransposed products go straight through. */
export function makeBatchMatMulKernel(tf: TensorFlow, stock: tfjs.KernelFunc): tfjs.KernelFunc {
  const kernelFunc: tfjs.KernelFunc = (args) => {
    const { a, b } = args.inputs as tfjs.BatchMatMulInputs;
    const { transposeA, transposeB } = args.attrs as unknown as tfjs.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return stock(args);
    if (a === undefined || b === undefined) throw new KernelError('BatchMatMul: inputs a and b are required');
    const plain = { ...args.attrs, transposeA: false, transposeB: false };
    const costs = matMulCopyCosts(a.shape, b.shape, transposeA, transposeB);
    const temporaries: tfjs.Tensor[] = [];
    const transposed = (info: tfjs.TensorInfo, name: string) => {
      const t = tf.tidy(() => swapLastTwo(tf, asTensor(tf, info, name)));
      temporaries.push(t);
      return t;
    };
    try {
      if (costs.direct <= costs.swapped) {
        const left = transposeA ? transposed(a, 'a') : a;
        const right = transposeB ? transposed(b, 'b') : b;
        return stock({ ...args, inputs: { a: left, b: right }, attrs: plain });
      }
      // C^T = op(B)^T op(A)^T, then transpose back.
      const left = transposeB ? b : transposed(b, 'b');
      const right = transposeA ? a : transposed(a, 'a');
      const productT = stock({ ...args, inputs: { a: left, b: right }, attrs: plain }) as tfjs.TensorInfo;
      // A fresh kernel output: the tensor takes over its reference.
      const product = tf.engine().makeTensorFromTensorInfo(productT);
      temporaries.push(product);
      return tf.tidy(() => swapLastTwo(tf, product));
    } finally {
      tf.dispose(temporaries);
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
    throw new KernelError(`No BatchMatMul kernel is registered for backend '${backendName}' to wrap`);
  }
  if (wrappers.has(stock.kernelFunc)) return;
  tf.unregisterKernel('BatchMatMul', backendName);
  tf.registerKernel({ ...stock, kernelFunc: makeBatchMatMulKernel(tf, stock.kernelFunc) });
}
