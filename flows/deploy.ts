/**
 * Deploys the model server for a registry model at the version its alias
 * names (tasks/serving/deploy-task.ts). The flow's task is complete when a
 * server on host:port answers ready with that version.
 *
 *   npx ts-node flows/deploy.ts --store ./data                   # in process: serves in the foreground until SIGINT/SIGTERM
 *   npx ts-node flows/deploy.ts --store ./data --target docker   # a long-running container (dagwright/server); ends when it is ready
 *   npx ts-node flows/deploy.ts --store ./data --target swarm    # a Swarm service (this engine a manager), rolled over start-first
 *   DAGWRIGHT_SERVE_TOKEN=secret npx ts-node flows/deploy.ts ...  # clients must send Authorization: Bearer secret
 *
 * The deploy step runs in this process (the default executor here is
 * inprocess, not auto): it starts a server here or talks to the Docker engine.
 * `runServingFlow` is how a flow ending in a deploy step runs (flows/register.ts too).
 */
import { ExitCode, type FlowDefinition, type ParamSpecs, runFlow } from '../src';
import { runInForeground, type Service } from '../src/public/runtime';
import { DeployModelServer } from '../tasks/serving/deploy/deploy-task';
import type { ModelServer } from '../tasks/serving/model-server';

const { store: _store, ...deployFlowParams } = DeployModelServer.params;

let deployTask: DeployModelServer | undefined;

export const deployFlow = {
  name: 'deploy',
  description:
    'Make sure a model server serves <model> at the version <alias> names on host:port: in this process (--target in-process, ' +
    'then serving in the foreground), as a long-running Docker container replaced without a gap when its image or settings change ' +
    '(--target docker), or as a Swarm service rolled over one task at a time, start-first (--target swarm).',
  params: deployFlowParams,
  roots: (params, { store }) => (deployTask = new DeployModelServer({ ...params, store })),
} satisfies FlowDefinition<typeof deployFlowParams>;

/** The server the flow started, as a service whose start is already done, for the foreground runner. */
function alreadyStarted(server: ModelServer): Service {
  return { name: server.name, start: async () => undefined, health: () => server.health(), stop: () => server.stop(), [Symbol.asyncDispose]: () => server.stop() };
}

/** The value of `--name value` or `--name=value` in `argv`, if given. */
export function optionValue(argv: readonly string[], name: string): string | undefined {
  const at = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (at < 0) return undefined;
  return argv[at].includes('=') ? argv[at].slice(argv[at].indexOf('=') + 1) : argv[at + 1];
}

export interface ServingFlowOptions {
  /** The flow's deploy task, once its roots are made (undefined when it has none). */
  readonly deployTask: () => DeployModelServer | undefined;
  /** The server runs in this process (target in-process): its step must too, so a container executor is refused. */
  readonly inProcess: boolean;
  /** Run every step in this process unless --executor says otherwise (default: only for an in-process server). */
  readonly inProcessByDefault?: boolean;
}

/**
 * Runs a flow whose roots end in a deploy step, then keeps a server it
 * started in this process serving in the foreground until SIGINT/SIGTERM.
 * Resolves with the exit code.
 */
export async function runServingFlow<S extends ParamSpecs>(flow: FlowDefinition<S>, argv: readonly string[], options: ServingFlowOptions): Promise<number> {
  const executor = optionValue(argv, 'executor');
  if (options.inProcess && executor !== undefined && executor !== 'inprocess') {
    process.stderr.write(
      `error: an in-process model server runs in the flow's own process, but --executor ${executor} would start it in a step that then ends. ` +
        'Use --executor inprocess (the default here), or deploy it as a container or service (docker, swarm).\n',
    );
    return ExitCode.usage;
  }
  const hereByDefault = executor === undefined && (options.inProcess || options.inProcessByDefault === true);
  const code = await runFlow(flow, { exit: false, argv: hereByDefault ? ['--executor', 'inprocess', ...argv] : argv });
  const server = options.deployTask()?.embeddedServer;
  if (!server) return code;
  if (code === 0) return runInForeground(alreadyStarted(server), server.logger);
  // The run was stopped (a signal) or failed after the server started: it stops as on SIGTERM, its log flushed.
  await server.stop();
  return code;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const inProcess = (optionValue(argv, 'target') ?? DeployModelServer.params.target.default) === 'in-process';
  // The step starts a server here or talks to the engine itself: in process unless told otherwise.
  process.exit(await runServingFlow(deployFlow, argv, { deployTask: () => deployTask, inProcess, inProcessByDefault: true }));
}

if (require.main === module) void main();
