/**
 * The whole MNIST pipeline: preprocess, train, evaluate, then register the
 * model in the store's registry (<store>/registry/<model-name>/). A new
 * version becomes `champion` when it beats the champion's test accuracy.
 * A second run with the same parameters does nothing.
 *
 *   npx ts-node flows/register.ts --increment 3 --model-name mnist-digits
 *   npx dagwright registry list                 # then look at the versions
 */
import { type FlowDefinition, runFlow } from '../src';
import { checkIncrementOption, trainFlowParams } from '../tasks/mnist/flow-params';
import { RegisterModel } from '../tasks/mnist/register-task';

const registerFlowParams = {
  ...trainFlowParams,
  modelName: RegisterModel.params.modelName,
  tags: RegisterModel.params.tags,
};

export const registerFlow = {
  name: 'mnist-register',
  description:
    'Preprocess, train and evaluate the MNIST digits classifier on one data increment, then register it: a new version in ' +
    '<store>/registry/<model-name>/ with lineage (data hashes, parameters, metrics, backend, run ids, code version); ' +
    '"champion" moves to it when it beats the current champion on test accuracy.',
  params: registerFlowParams,
  roots: (params, { store }) => {
    checkIncrementOption(params.increment, params.incrementSize);
    return new RegisterModel({ ...params, store });
  },
} satisfies FlowDefinition<typeof registerFlowParams>;

if (require.main === module) void runFlow(registerFlow);
