/**
 * The MNIST pipeline with a PyTorch training step: the same preprocessed
 * increment as flows/register.ts, trained in Python with Debian's
 * python3-torch (/usr/bin/python3, or DAGWRIGHT_PYTHON), written as ONNX,
 * evaluated with ONNX Runtime and registered under the same promotion
 * contract: "champion" moves to it when it beats the champion's test
 * accuracy, whichever framework trained the champion. A server following
 * "champion" swaps between the two.
 *
 *   apt-get install -y python3-torch
 *   npx ts-node flows/train-pytorch.ts --increment 6 --epochs 5
 *   npx dagwright registry list
 *
 * The Python step needs python3-torch where it runs: the flow runs its steps
 * in this process (on this machine) unless `--executor` says otherwise (the
 * project's runner images hold Node.js only).
 */
import { type FlowDefinition, runFlow } from '../src';
import { checkIncrementOption, trainFlowParams } from '../tasks/mnist/flow-params';
import { RegisterPytorchModel } from '../tasks/mnist/pytorch/register-task';

// The PyTorch step trains new weights on the whole increment: --warm-start and --replay are the TF.js training's.
const { warmStart: _warmStart, replay: _replay, ...pytorchTrainParams } = trainFlowParams;
const params = { ...pytorchTrainParams, modelName: RegisterPytorchModel.params.modelName };

export const trainPytorchFlow = {
  name: 'mnist-train-pytorch',
  description:
    'Preprocess one MNIST data increment, train the digits classifier in PyTorch (Python, python3-torch) and write it as ONNX, ' +
    'evaluate it with ONNX Runtime and register it; "champion" moves to it when it beats the current champion on test accuracy.',
  params,
  roots: (p, { store }) => {
    checkIncrementOption(p.increment, p.incrementSize);
    return new RegisterPytorchModel({ ...p, store });
  },
} satisfies FlowDefinition<typeof params>;

if (require.main === module) {
  const argv = process.argv.slice(2);
  const executorGiven = argv.some((a) => a === '--executor' || a.startsWith('--executor='));
  void runFlow(trainPytorchFlow, { argv: executorGiven ? argv : ['--executor', 'inprocess', ...argv] });
}
