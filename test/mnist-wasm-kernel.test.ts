/**
 * The wasm training kernels (Conv2DBackpropFilter, the replacement
 * Conv2DBackpropInput and the BatchMatMul wrapper) against the stock
 * kernels of the cpu backend, on random data.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';
import { matMulCopyCosts } from '../tasks/tf/kernels/wasm-batch-mat-mul';
import { planPhaseAxis } from '../tasks/tf/kernels/wasm-conv2d-backprop-input';
import { relativeError } from './helpers/relative-error';

let tf: TensorFlow;

beforeAll(async () => {
  ({ tf } = await loadTensorFlow({ backend: 'wasm' }));
});

/** Runs `compute` on the given backend with fresh copies of the inputs; returns the outputs' values. */
async function on(backend: 'wasm' | 'cpu', inputs: Array<{ shape: number[]; values: Float32Array }>, compute: (...t: tfjs.Tensor[]) => tfjs.Tensor[]) {
  await tf.setBackend(backend);
  try {
    const tensors = inputs.map(({ shape, values }) => tf.tensor(values, shape));
    const outputs = compute(...tensors);
    const values = outputs.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
    tf.dispose([...tensors, ...outputs]);
    return values;
  } finally {
    await tf.setBackend('wasm');
  }
}

function random(shape: number[], seed: number) {
  let state = seed;
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 1073741824 - 1;
  });
  return { shape, values };
}

type Strides = number | [number, number];
const cases: Array<{ x: number[]; filter: number[]; strides: Strides; pad: 'same' | 'valid' }> = [
  { x: [4, 28, 28, 1], filter: [5, 5, 1, 16], strides: 2, pad: 'same' }, // first layer of the model
  { x: [4, 14, 14, 16], filter: [5, 5, 16, 32], strides: 2, pad: 'same' }, // second layer of the model
  { x: [3, 12, 12, 8], filter: [5, 5, 8, 12], strides: 1, pad: 'valid' },
  { x: [2, 8, 8, 4], filter: [3, 3, 4, 6], strides: 1, pad: 'same' },
  { x: [2, 9, 11, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'valid' }, // odd sizes: unused trailing rows
  { x: [2, 9, 11, 3], filter: [4, 3, 3, 5], strides: 3, pad: 'same' },
  { x: [2, 10, 10, 2], filter: [3, 3, 2, 4], strides: [1, 2], pad: 'same' }, // unequal strides
  { x: [2, 7, 7, 4], filter: [1, 1, 4, 6], strides: 1, pad: 'same' },
  { x: [2, 13, 13, 3], filter: [4, 4, 3, 4], strides: 2, pad: 'same' },
];

describe('wasm convolution gradients match the cpu backend', () => {
  it.each(cases)('x $x, filter $filter, strides $strides, $pad', async ({ x, filter, strides, pad }) => {
    const inputs = [random(x, 1), random(filter, 2)];
    const gradients = (xT: tfjs.Tensor, wT: tfjs.Tensor) => {
      // Weighting the output makes dy non-uniform.
      const loss = (a: tfjs.Tensor, b: tfjs.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tfjs.Tensor4D, b as tfjs.Tensor4D, strides, pad)));
      return tf.grads(loss)([xT, wT]);
    };
    const [wasmDx, wasmDw] = await on('wasm', inputs, gradients);
    const [cpuDx, cpuDw] = await on('cpu', inputs, gradients);
    expect(wasmDx.shape).toEqual(x);
    expect(wasmDw.shape).toEqual(filter);
    expect(relativeError(wasmDx.values, cpuDx.values)).toBeLessThan(1e-5);
    expect(relativeError(wasmDw.values, cpuDw.values)).toBeLessThan(1e-5);
  });

  it('handles NCHW data by transposing', async () => {
    const inputs = [random([2, 8, 8, 3], 3), random([3, 3, 3, 4], 4), random([2, 4, 4, 4], 5)];
    const kernels = (xT: tfjs.Tensor, wT: tfjs.Tensor, dyT: tfjs.Tensor) => {
      const xNchw = tf.transpose(xT, [0, 3, 1, 2]) as tfjs.Tensor4D;
      const dyNchw = tf.transpose(dyT, [0, 3, 1, 2]) as tfjs.Tensor4D;
      const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW' };
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xNchw, dy: dyNchw }, { ...attrs, filterShape: [3, 3, 3, 4] }) as tfjs.Tensor;
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyNchw, filter: wT }, { ...attrs, inputShape: [2, 3, 8, 8] }) as tfjs.Tensor;
      return [dw, dx];
    };
    const [wasmDw, wasmDx] = await on('wasm', inputs, kernels);
    const [cpuDw, cpuDx] = await on('cpu', inputs, kernels);
    expect(wasmDx.shape).toEqual([2, 3, 8, 8]);
    expect(relativeError(wasmDw.values, cpuDw.values)).toBeLessThan(1e-5);
    expect(relativeError(wasmDx.values, cpuDx.values)).toBeLessThan(1e-5);
  });

  it('plans the phases of a stride-2 5x5 "same" convolution without wasted rows', () => {
    // Input 14 -> output 7, padTop 1. Window position u reads dy[q - 1 + u].
    // Row 2q: dy[q-1]*W[3] + dy[q]*W[1]. Row 2q+1: dy[q-1]*W[4] + dy[q]*W[2] + dy[q+1]*W[0].
    const plan = planPhaseAxis(14, 5, 2, 1, 7);
    expect(plan.window).toBe(3);
    expect(plan.padBefore).toBe(1);
    expect(plan.outputsPerPhase).toBe(7);
    expect(Array.from(plan.taps)).toEqual([3, 1, -1, 4, 2, 0]);
  });

  it('does not leak tensors', async () => {
    const x = tf.tensor4d(random([2, 14, 14, 4], 6).values, [2, 14, 14, 4]);
    const w = tf.tensor4d(random([5, 5, 4, 8], 7).values, [5, 5, 4, 8]);
    const loss = (a: tfjs.Tensor, b: tfjs.Tensor) => tf.sum(tf.conv2d(a as tfjs.Tensor4D, b as tfjs.Tensor4D, 2, 'same'));
    tf.dispose(tf.grads(loss)([x, w])); // warm-up (caches)
    const before = tf.memory().numTensors;
    tf.dispose(tf.grads(loss)([x, w]));
    expect(tf.memory().numTensors).toBe(before);
    expect(x.dataSync().length).toBe(2 * 14 * 14 * 4); // inputs survive
    tf.dispose([x, w]);
  });
});

describe('wasm BatchMatMul with transposed operands matches the cpu backend', () => {
  it.each([
    { a: [1, 64, 100], b: [1, 64, 30], transposeA: true, transposeB: false, form: 'direct' }, // dense dW
    { a: [1, 64, 100], b: [1, 30, 100], transposeA: false, transposeB: true, form: 'direct' },
    { a: [1, 4, 64], b: [1, 300, 64], transposeA: false, transposeB: true, form: 'swapped' }, // dense dX
    { a: [3, 20, 7], b: [3, 9, 20], transposeA: true, transposeB: true, form: 'swapped' },
    { a: [2, 5, 6], b: [2, 6, 4], transposeA: false, transposeB: false, form: 'direct' },
  ])('a $a (transposed: $transposeA), b $b (transposed: $transposeB), $form form', async ({ a, b, transposeA, transposeB, form }) => {
    const costs = matMulCopyCosts(a, b, transposeA, transposeB);
    expect(costs.direct <= costs.swapped ? 'direct' : 'swapped').toBe(form);
    const inputs = [random(a, 8), random(b, 9)];
    const product = (aT: tfjs.Tensor, bT: tfjs.Tensor) => [tf.matMul(aT as tfjs.Tensor3D, bT as tfjs.Tensor3D, transposeA, transposeB)];
    const [wasm] = await on('wasm', inputs, product);
    const [cpu] = await on('cpu', inputs, product);
    expect(wasm.shape).toEqual(cpu.shape);
    expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-5);
  });
});
