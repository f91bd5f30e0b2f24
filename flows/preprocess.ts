/**
 * Preprocess one MNIST data version (increment) and the test set into the
 * store. A second run with the same parameters does nothing.
 *
 *   npx ts-node flows/preprocess.ts --increment 2 --store ./data
 */
import { type FlowDefinition, runFlow } from '../src';
import { checkIncrementOption, dataFlowParams } from '../tasks/mnist/flow-params';
import { PreprocessIncrement, PreprocessTestSet } from '../tasks/mnist/preprocess-task';

export const preprocessFlow = {
  name: 'mnist-preprocess',
  description:
    'Preprocess MNIST: the training images of one increment (normalised float32 [n,28,28,1], seeded train/validation split) ' +
    'and the test set, as raw tensor files plus a manifest with shapes, counts and sha256 hashes.',
  params: dataFlowParams,
  roots: (params, { store }) => {
    checkIncrementOption(params.increment, params.incrementSize);
    return [new PreprocessIncrement({ ...params, store }), new PreprocessTestSet({ source: params.source, store })];
  },
} satisfies FlowDefinition<typeof dataFlowParams>;

if (require.main === module) void runFlow(preprocessFlow);
