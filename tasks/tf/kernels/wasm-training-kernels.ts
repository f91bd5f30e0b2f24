/**
 * The kernels that make CNN training on the wasm backend possible and fast.
 * See each file for what it replaces and the measurements behind it.
 */
import type { TensorFlow } from '../tensorflow';
import { registerWasmBatchMatMul } from './wasm-batch-mat-mul';
import { registerWasmConv2DBackpropFilter } from './wasm-conv2d-backprop-filter';
import { registerWasmConv2DBackpropInput } from './wasm-conv2d-backprop-input';

/** Registers the training kernels for `backendName` (default 'wasm'); idempotent. */
export function registerWasmTrainingKernels(tf: TensorFlow, backendName = 'wasm'): void {
  registerWasmConv2DBackpropFilter(tf, backendName);
  registerWasmConv2DBackpropInput(tf, backendName);
  registerWasmBatchMatMul(tf, backendName);
}
