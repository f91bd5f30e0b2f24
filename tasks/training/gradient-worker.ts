/**
 * Entry point of a gradient worker thread: a model replica on its own
 * TensorFlow.js instance (own wasm module) that computes gradients for its
 * share of each batch, reading parameters from and writing gradients to
 * shared memory. Started by gradient-worker-pool.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { gatherBatch } from './gradient-engine';
import type { FromWorker, GradientWorkerData, ToWorker } from './gradient-worker-protocol';
import { buildModel, PIXELS } from '../mnist/model';
import { ModelReplica } from './model-replica';
import { loadTensorFlow } from '../tf/tf-backend';

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('gradient-worker must run in a worker thread');
  const data = workerData as GradientWorkerData;
  const send = (message: FromWorker) => port.postMessage(message);

  const { tf, backend } = await loadTensorFlow({ backend: data.backend });
  const replica = new ModelReplica(tf, buildModel(tf, data.model));
  let batchImages = new Float32Array(0);
  let batchLabels = new Uint8Array(0);

  port.on('message', (message: ToWorker) => {
    try {
      if (message.type === 'gradients') {
        const n = message.indices.length;
        if (batchLabels.length < n) {
          batchImages = new Float32Array(n * PIXELS);
          batchLabels = new Uint8Array(n);
        }
        const t0 = performance.now();
        gatherBatch(data.trainImages, data.trainLabels, message.indices, batchImages, batchLabels);
        const t1 = performance.now();
        replica.writeParams(data.params);
        const t2 = performance.now();
        const { loss, correct } = replica.computeGradients(batchImages, batchLabels, n, data.gradient);
        const t3 = performance.now();
        send({ type: 'gradients', id: message.id, loss, correct, timings: { gatherMs: t1 - t0, uploadMs: t2 - t1, computeMs: t3 - t2 } });
      } else {
        replica.writeParams(data.params);
        const images = data.valImages.subarray(message.start * PIXELS, (message.start + message.count) * PIXELS);
        send({ type: 'predict', id: message.id, predictions: replica.predict(images, message.count) });
      }
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      send({ type: 'error', id: message.id, message: e.message, stack: e.stack });
    }
  });
  send({ type: 'ready', backend, size: replica.size });
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  parentPort?.postMessage({ type: 'error', id: undefined, message: e.message, stack: e.stack } satisfies FromWorker);
});
