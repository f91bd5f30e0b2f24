/**
 * Chooses the TensorFlow.js backend at run time.
 *
 * Order of preference:
 *   1. `@tensorflow/tfjs-node` (native libtensorflow, multi-threaded) when it
 *      is installed and loads; it is an optional dependency.
 *   2. `@tensorflow/tfjs` on the WebAssembly backend (one thread, SIMD), with
 *      the training kernels the wasm backend lacks or runs slowly.
 *   3. The pure-JavaScript cpu backend (correct but very slow for CNNs).
 *
 * The choice can be forced with the `backend` option or the environment
 * variable `DAGWRIGHT_TF_BACKEND` (`tensorflow`, `wasm` or `cpu`).
 */
import * as path from 'node:path';

import { registerWasmTrainingKernels } from './kernels/wasm-training-kernels';

import type { TensorFlow } from './tensorflow';
import { DagwrightError, UsageError } from '../../src/public/errors';

export type { TensorFlow };

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface LoadedTensorFlow {
  tf: TensorFlow;
  backend: BackendName;
}

export interface LoadTensorFlowOptions {
  /** Use exactly this backend, or throw if it cannot be used. Default: best available. */
  backend?: BackendName;
}

/** Thrown when a backend that was explicitly asked for cannot be used. */
export class BackendUnavailableError extends DagwrightError {
  readonly backend: BackendName;

  constructor(backend: BackendName, reason: string, options?: { cause?: unknown }) {
    super(`TensorFlow.js backend '${backend}' is not available: ${reason}`, options);
    this.backend = backend;
  }
}

const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** Directory holding the backend's .wasm binaries, independent of the current directory. */
export function wasmBinaryDirectory(): string {
  const wasmFile = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  return path.dirname(wasmFile) + path.sep;
}

function requestedBackend(options: LoadTensorFlowOptions): BackendName | undefined {
  const requested = options.backend ?? process.env.DAGWRIGHT_TF_BACKEND;
  if (requested === undefined || requested === '') return undefined;
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new UsageError(
      `Expected DAGWRIGHT_TF_BACKEND to be one of ${BACKENDS.join(', ')}, got '${requested}'`,
    );
  }
  return requested as BackendName;
}

function loadNative(): TensorFlow {
  // A variable module name keeps TypeScript from resolving a package that is
  // usually not installed; the API is the same as @tensorflow/tfjs.
  const nativePackage = '@tensorflow/tfjs-node';
  return require(nativePackage) as TensorFlow;
}

function loadJs(): TensorFlow {
  return require('@tensorflow/tfjs') as TensorFlow;
}

let wasmPathsSet = false;

async function useWasm(tf: TensorFlow): Promise<boolean> {
  // Importing the package registers the 'wasm' backend with tfjs-core.
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    wasm.setWasmPaths(wasmBinaryDirectory());
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend('wasm'))) return false;
  await tf.ready();
  registerWasmTrainingKernels(tf);
  return true;
}

/**
 * Loads TensorFlow.js with the best backend available in this process and
 * makes it the active backend. Safe to call more than once.
 */
export async function loadTensorFlow(options: LoadTensorFlowOptions = {}): Promise<LoadedTensorFlow> {
  const forced = requestedBackend(options);

  if (forced === undefined || forced === 'tensorflow') {
    try {
      const tf = loadNative();
      await tf.ready();
      return { tf, backend: 'tensorflow' };
    } catch (error) {
      if (forced === 'tensorflow') {
        throw new BackendUnavailableError('tensorflow', '@tensorflow/tfjs-node could not be loaded', {
          cause: error,
        });
      }
    }
  }

  const tf = loadJs();
  if (forced === undefined || forced === 'wasm') {
    let wasmError: unknown;
    try {
      if (await useWasm(tf)) return { tf, backend: 'wasm' };
    } catch (error) {
      wasmError = error;
    }
    if (forced === 'wasm') {
      throw new BackendUnavailableError('wasm', 'the WebAssembly backend did not initialise', {
        cause: wasmError,
      });
    }
  }

  if (!(await tf.setBackend('cpu'))) {
    throw new BackendUnavailableError('cpu', 'tf.setBackend("cpu") returned false');
  }
  await tf.ready();
  return { tf, backend: 'cpu' };
}
