/**
 * The prediction worker: TensorFlow.js and the loaded versions live in this
 * thread, so the server's main thread parses, answers and logs requests
 * while a batch is being predicted (the wasm backend runs one thread per
 * instance: this is how the server uses a second core). It reads a
 * version's files from the store itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type * as tfjs from '@tensorflow/tfjs';
import { ModelRegistry } from '../../registry/registry';
import { loadTensorFlow } from '../../tf/tf-backend';
import { loadModelFrom } from '../../training/model-io';
import { itemShapeOf } from './inline-predictor';
import type { FromPredictWorker, PredictWorkerData, ToPredictWorker } from './predict-worker-protocol';
import { PredictorError } from '../errors';

const port = parentPort!;
const ready = loadTensorFlow({ backend: (workerData as PredictWorkerData).backend });
const models = new Map<string, { model: tfjs.LayersModel; itemShape: readonly number[] }>();

function reply(message: FromPredictWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function handle(message: ToPredictWorker): Promise<void> {
  const { tf, backend } = await ready;
  switch (message.type) {
    case 'load': {
      const model = await loadModelFrom(tf, new ModelRegistry(message.store, message.model).filesOf(message.version));
      models.set(message.key, { model, itemShape: itemShapeOf(model) });
      const outputShape = (model.outputs[0].shape ?? []) as (number | null)[];
      return reply({ type: 'loaded', id: message.id, inputShape: model.inputs[0].shape, outputShape, backend });
    }
    case 'predict': {
      const entry = models.get(message.key);
      if (!entry) throw new PredictorError(`no model loaded under ${message.key}`);
      const output = tf.tidy(() => entry.model.predict(tf.tensor(message.features, [message.count, ...entry.itemShape], 'float32')) as tfjs.Tensor);
      const probabilities = new Float32Array(output.dataSync() as Float32Array);
      output.dispose();
      return reply({ type: 'result', id: message.id, probabilities }, [probabilities.buffer as ArrayBuffer]);
    }
    case 'dispose': {
      models.get(message.key)?.model.dispose();
      models.delete(message.key);
      return reply({ type: 'disposed', id: message.id });
    }
  }
}

port.on('message', (message: ToPredictWorker) => {
  handle(message).catch((err: unknown) => reply({ type: 'error', id: message.id, message: err instanceof Error ? err.message : String(err) }));
});
