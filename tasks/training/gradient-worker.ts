/**
 * Entry point of a gradient worker thread: a model replica on its own
 * TensorFlow.js instance (own wasm module), rebuilt from the model's
 * topology, that runs its share of every step of an epoch (epoch-runner.ts),
 * meeting the other workers at shared-memory barriers. Started by
 * gradient-worker-pool.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';

import type * as tfjs from '@tensorflow/tfjs';

import { EpochRunner, stepsPerEpoch } from './epoch-runner';
import type { FromWorker, GradientWorkerData, ToWorker } from './gradient-worker-protocol';
import { ModelReplica } from './model-replica';
import { markFailed, PeerFailedError, StepBarrier } from './step-barrier';
import { loadTensorFlow } from '../tf/tf-backend';
import { TrainingInternalError } from './errors';

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new TrainingInternalError('gradient-worker must run in a worker thread');
  const data = workerData as GradientWorkerData;
  const send = (message: FromWorker) => port.postMessage(message);

  const { tf, backend } = await loadTensorFlow({ backend: data.backend });
  const topology = JSON.parse(data.modelTopology) as tfjs.io.ModelJSON['modelTopology'];
  const model = await tf.models.modelFromJSON({ modelTopology: topology as never });
  const replica = new ModelReplica(tf, model);
  const barrier = new StepBarrier(data.state.control, data.workers);
  const runner = new EpochRunner(replica, data, data.state, barrier, data.index, data.workers);

  port.on('message', (message: ToWorker) => {
    try {
      if (message.type === 'epoch') {
        const { plan } = message;
        const steps = stepsPerEpoch(plan.order.length, plan.batchSize);
        let run = 0;
        while (run < steps && runner.runStep(plan, run++));
        send({ type: 'epoch', id: message.id, steps: run });
      } else {
        send({ type: 'predict', id: message.id, predictions: runner.predictValidation(message.start, message.count) });
      }
    } catch (error) {
      markFailed(data.state.control);
      const e = error instanceof Error ? error : new Error(String(error));
      send({ type: 'error', id: message.id, message: e.message, stack: e.stack, peer: error instanceof PeerFailedError });
    }
  });
  send({ type: 'ready', backend, size: replica.size });
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  parentPort?.postMessage({ type: 'error', id: undefined, message: e.message, stack: e.stack, peer: false } satisfies FromWorker);
});
