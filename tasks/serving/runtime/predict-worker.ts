/**
 * The prediction worker: the loaded versions and their runtimes live in
 * this thread, so the server's main thread parses, answers and logs
 * requests while a batch is being predicted. Each version runs on the
 * runtime model-format.ts picks for it: ONNX Runtime (whose `session.run`
 * computes synchronously on the calling thread) or TensorFlow.js (whose
 * wasm backend runs one thread per instance), each started on first use.
 * It reads a version's files from the store itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromPredictWorker, PredictWorkerData, ToPredictWorker } from './predict-worker-protocol';
import { defaultOnnxThreads, inlineRuntimes } from './model-runtimes';

const port = parentPort!;
const { backend, onnxThreads } = workerData as PredictWorkerData;
const predictor = inlineRuntimes(backend, onnxThreads ?? defaultOnnxThreads(true));

function reply(message: FromPredictWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The values as a buffer of their own, so they move to the main thread without a copy there. */
function transferable(values: Float32Array): Float32Array {
  return values.byteOffset === 0 && values.byteLength === values.buffer.byteLength && values.buffer instanceof ArrayBuffer ? values : values.slice();
}

async function handle(message: ToPredictWorker): Promise<void> {
  switch (message.type) {
    case 'load': {
      const shapes = await predictor.load(message.key, message.store, message.model, message.version);
      return reply({ type: 'loaded', id: message.id, ...shapes });
    }
    case 'predict': {
      const probabilities = transferable(await predictor.predict(message.key, message.features, message.count));
      return reply({ type: 'result', id: message.id, probabilities }, [probabilities.buffer as ArrayBuffer]);
    }
    case 'dispose': {
      await predictor.dispose(message.key);
      return reply({ type: 'disposed', id: message.id });
    }
  }
}

port.on('message', (message: ToPredictWorker) => {
  handle(message).catch((err: unknown) => reply({ type: 'error', id: message.id, message: err instanceof Error ? err.message : String(err) }));
});
