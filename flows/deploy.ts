/**
 * Deploys the model server for a registry model at the version its alias
 * names (tasks/serving/deploy-task.ts). The flow's task is complete when a
 * server on host:port answers ready with that version.
 *
 *   npx ts-node flows/deploy.ts --store ./data                   # in process: serves in the foreground until SIGINT/SIGTERM
 *   npx ts-node flows/deploy.ts --store ./data --target docker   # a long-running container (dagwright/server); ends when it is ready
 *   DAGWRIGHT_SERVE_TOKEN=secret npx ts-node flows/deploy.ts ...  # clients must send Authorization: Bearer secret
 *
 * The deploy step runs in this process (the default executor here is
 * inprocess, not auto): it starts a server here or talks to the Docker engine.
 */
import { type FlowDefinition, runFlow, runInForeground, type Service } from '../src';
import { DeployModelServer } from '../tasks/serving/deploy-task';
import type { ModelServer } from '../tasks/serving/model-server';

const { store: _store, ...deployFlowParams } = DeployModelServer.params;

let deployTask: DeployModelServer | undefined;

export const deployFlow = {
  name: 'deploy',
  description:
    'Make sure a model server serves <model> at the version <alias> names on host:port: in this process (--target in-process, ' +
    'then serving in the foreground), or as a long-running Docker container replaced without a gap when its image or settings change (--target docker).',
  params: deployFlowParams,
  roots: (params, { store }) => (deployTask = new DeployModelServer({ ...params, store })),
} satisfies FlowDefinition<typeof deployFlowParams>;

/** The server the flow started, as a service whose start is already done, for the foreground runner. */
function alreadyStarted(server: ModelServer): Service {
  return { name: server.name, start: async () => undefined, health: () => server.health(), stop: () => server.stop(), [Symbol.asyncDispose]: () => server.stop() };
}

async function main(): Promise<void> {
  // The step starts a server here or talks to the engine itself: in process unless told otherwise.
  const argv = process.argv.slice(2);
  const hasExecutor = argv.some((a) => a === '--executor' || a.startsWith('--executor='));
  const code = await runFlow(deployFlow, { exit: false, argv: hasExecutor ? argv : ['--executor', 'inprocess', ...argv] });
  const server = deployTask?.embeddedServer;
  process.exit(code === 0 && server ? await runInForeground(alreadyStarted(server), server.logger) : code);
}

if (require.main === module) void main();
