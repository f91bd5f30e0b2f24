/**
 * Preprocess, train and evaluate the MNIST digits classifier. With the
 * defaults it trains on all 60,000 training images (increment 6) and
 * reaches 99.29% test accuracy (seeded: every run gets the same model) in
 * about two minutes or less on two cores without tfjs-node. A second run
 * with the same parameters does nothing.
 *
 *   npx ts-node flows/train.ts                         # store ./data
 *   npx ts-node flows/train.ts --increment 1 --epochs 2 --store /tmp/mnist
 */
import { type FlowDefinition, runFlow } from '../src';
import { EvaluateModel } from '../tasks/mnist/evaluate-task';
import { checkIncrementOption, trainFlowParams } from '../tasks/mnist/flow-params';

export const trainFlow = {
  name: 'mnist-train',
  description:
    'Train the MNIST digits classifier on one data increment: preprocess the increment and the test set, train a small CNN ' +
    '(TensorFlow.js: tfjs-node when installed, else wasm) and evaluate it on the 10,000 test images. ' +
    'Outputs under <store>/mnist/: preprocessed/, models/<task id>/ (model.json, weights.bin, metrics.json, training.json), evaluations/.',
  params: trainFlowParams,
  roots: (params, { store }) => {
    checkIncrementOption(params.increment, params.incrementSize);
    return new EvaluateModel({ ...params, store });
  },
} satisfies FlowDefinition<typeof trainFlowParams>;

if (require.main === module) void runFlow(trainFlow);
