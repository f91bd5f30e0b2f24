/**
 * The whole MNIST pipeline: preprocess, train, evaluate, then register the
 * model in the store's registry (<store>/registry/<model-name>/). A new
 * version becomes `champion` when it beats the champion's test accuracy.
 * A second run with the same parameters does nothing.
 *
 *   npx ts-node flows/register.ts --increment 3 --model-name mnist-digits
 *   npx dagwright registry list                 # then look at the versions
 *
 * With `--deploy`, the flow then makes sure a model server serves the
 * champion (tasks/serving/deploy-task.ts, after the registration):
 *
 *   npx ts-node flows/register.ts --deploy in-process   # then serves in the foreground (steps run in this process)
 *   npx ts-node flows/register.ts --deploy docker       # a long-running container; the flow ends when it is ready
 *   npx ts-node flows/register.ts --deploy swarm --serve-port 9000
 *
 * A server already deployed follows the champion by itself; the deploy step
 * runs again only when the server is gone or its settings changed.
 */
import { type FlowDefinition, param, runFlow } from '../src';
import { checkIncrementOption, trainFlowParams } from '../tasks/mnist/flow-params';
import { RegisterModel } from '../tasks/mnist/register-task';
import { DeployModelServer } from '../tasks/serving/deploy/deploy-task';
import { optionValue, runServingFlow } from './deploy';

const registerFlowParams = {
  ...trainFlowParams,
  modelName: RegisterModel.params.modelName,
  tags: RegisterModel.params.tags,
  deploy: param.choice(['none', 'in-process', 'docker', 'swarm'] as const, {
    default: 'none',
    description: 'then serve the champion: in this process (in the foreground), as a Docker container, or as a Swarm service',
  }),
  servePort: DeployModelServer.params.port,
};

let deployTask: DeployModelServer | undefined;

export const registerFlow = {
  name: 'mnist-register',
  description:
    'Preprocess, train and evaluate the MNIST digits classifier on one data increment, then register it: a new version in ' +
    '<store>/registry/<model-name>/ with lineage (data hashes, parameters, metrics, backend, run ids, code version); ' +
    '"champion" moves to it when it beats the current champion on test accuracy. With --deploy, a model server then serves the champion.',
  params: registerFlowParams,
  roots: (params, { store }) => {
    checkIncrementOption(params.increment, params.incrementSize);
    const { deploy, servePort, ...registerParams } = params;
    const register = new RegisterModel({ ...registerParams, store });
    if (deploy === 'none') return register;
    deployTask = new DeployModelServer({ store, model: params.modelName, target: deploy, port: servePort }, { after: [register] });
    // Both are roots: a server that already serves the champion must not keep the registration from running.
    return [register, deployTask];
  },
} satisfies FlowDefinition<typeof registerFlowParams>;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const deploy = optionValue(argv, 'deploy') ?? 'none';
  if (deploy === 'none') return void runFlow(registerFlow);
  process.exit(await runServingFlow(registerFlow, argv, { deployTask: () => deployTask, inProcess: deploy === 'in-process' }));
}

if (require.main === module) void main();
