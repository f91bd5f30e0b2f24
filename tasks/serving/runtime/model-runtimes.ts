/**
 * Which thread each model runtime predicts on. Both runtimes compute on
 * the thread that calls them (ONNX Runtime's `session.run` blocks it for the
 * whole call, with `threads - 1` helpers of its own), so a runtime on the
 * server's main thread stops request parsing while a batch is predicted.
 *
 *   auto (default)  ONNX versions in a worker thread, TensorFlow.js versions inline:
 *                   ONNX Runtime predicts fast enough that the main thread's parsing
 *                   is the limit, and they overlap; the one-thread wasm backend
 *                   measured no faster in a worker, at 15-20% more CPU a request.
 *   worker          every version in one worker thread.
 *   inline          every version on the main thread (least memory, one thread busy).
 */
import { availableParallelism } from 'node:os';
import type { BackendName } from '../../tf/tf-backend';
import { InlinePredictor } from './inline-predictor';
import { ModelFormatPredictor } from './model-format';
import { OnnxPredictor } from './onnx-predictor';
import { PredictThread, type Predictor } from './predict-thread';

export const PREDICT_IN = ['auto', 'worker', 'inline'] as const;
export type PredictIn = (typeof PREDICT_IN)[number];
export const DEFAULT_PREDICT_IN: PredictIn = 'auto';

/**
 * ONNX Runtime's intra-op threads when not told: in a worker, the cores less
 * one, so the main thread keeps a core to parse requests (measured here on 2
 * cores, one run, load 2: two threads lost to one at every load, c64
 * 5,436 vs 6,634 req/s and batch 32 33,732 vs 36,988 images/s, as the
 * runtime's threads took the core the main thread needed); inline, every core.
 */
export function defaultOnnxThreads(inWorker: boolean): number {
  return Math.max(1, availableParallelism() - (inWorker ? 1 : 0));
}

export interface RuntimeOptions {
  readonly backend?: BackendName;
  readonly onnxThreads?: number;
}

/** Both runtimes on the calling thread, each started on first use (what the worker runs, and `inline`). */
export function inlineRuntimes(backend: BackendName | undefined, onnxThreads: number): Predictor {
  return new ModelFormatPredictor({ tfjs: () => new InlinePredictor(backend), onnx: () => new OnnxPredictor({ threads: onnxThreads, spinWait: false }) });
}

/** The predictor a server uses when predicting `where`. */
export function predictorFor(where: PredictIn, { backend, onnxThreads = defaultOnnxThreads(where !== 'inline') }: RuntimeOptions = {}): Predictor {
  switch (where) {
    case 'inline':
      return inlineRuntimes(backend, onnxThreads);
    case 'worker':
      return new PredictThread({ backend, onnxThreads });
    case 'auto':
      return new ModelFormatPredictor({ tfjs: () => new InlinePredictor(backend), onnx: () => new PredictThread({ onnxThreads }) });
  }
}
