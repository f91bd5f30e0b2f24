/**
 * `dagwright prune [--all] [--run-id ID] [--dry-run]` (or `npx ts-node app/cli/prune.ts ...`): removes the step
 * containers, and on a Swarm manager the step services, that crashed or
 * killed flows left behind (found by the `dagwright.managed` label). Without
 * --all, those whose flow process still runs on this machine are kept.
 * Deployed model servers (`dagwright.kind=model-server`: containers, and on a
 * Swarm manager services) are long-running on purpose: prune lists them, and
 * removes them only with --servers.
 * Exit codes: 0 done, 1 something could not be removed, 2 usage error or no engine.
 */
import { createDockerClient, type DockerClient, pingDocker } from '../../src/executors/container/engine-client';
import type { PruneOptions } from '../../src/executors/container/orphans';
import { isSwarmManager } from '../../src/executors/swarm/prune';
import { UsageError } from '../../src/errors';
import { type PrunedSteps, pruneSteps } from '../../src/flow/executors';
import { serverContainers } from '../../tasks/serving/deploy/docker-deployment';
import { ServerLabels } from '../../tasks/serving/deploy/server-deployment-spec';
import { removeSwarmServer, serverServices } from '../../tasks/serving/deploy/swarm-deployment';
import { type CommandIo, CommandExit, parseCommandArgs, runAsScript } from './command';

export const pruneUsage =
  'usage: dagwright prune [--all] [--run-id ID] [--servers [--port N]] [--dry-run]\n' +
  '  --all        also remove containers of flows that are still running\n' +
  '  --servers    also remove deployed model servers (containers, and Swarm services)\n' +
  '  --port N     only the model servers on port N\n' +
  "  --run-id ID  only that run's containers\n" +
  '  --dry-run    list, remove nothing\n';

interface ServerEntry {
  readonly name: string;
  remove(): Promise<unknown>;
}

/**
 * Deployed model servers: containers, and on a Swarm manager services. The
 * application's own entries beside the executors' steps: the library knows
 * nothing of what tasks deploy.
 */
async function deployedServers(docker: DockerClient, port: number | undefined): Promise<ServerEntry[]> {
  const manager = await isSwarmManager(docker);
  const where = (labels: Record<string, string>) => `for ${labels[ServerLabels.model] ?? '?'} on port ${labels[ServerLabels.port] ?? '?'}`;
  const containers = (await serverContainers(docker, port)).map((c) => ({
    name: `model server ${c.Id.slice(0, 12)} (${c.State}) ${where(c.Labels)}`,
    remove: () => docker.getContainer(c.Id).remove({ force: true }),
  }));
  const services = (manager ? await serverServices(docker, port) : []).map((s) => ({
    name: `model server service ${s.Spec?.Name ?? s.ID.slice(0, 12)} (${s.Spec?.Mode?.Global ? 'on every node' : `${s.Spec?.Mode?.Replicated?.Replicas ?? '?'} replica(s)`}) ${where(s.Spec?.Labels ?? {})}`,
    remove: () => removeSwarmServer(docker, s),
  }));
  return [...containers, ...services];
}

/** Deployed model servers: listed, and removed (stopping them) only when asked with --servers. */
async function pruneServers(servers: readonly ServerEntry[], remove: boolean, dryRun: boolean, io: CommandIo): Promise<boolean> {
  let failed = false;
  for (const server of servers) {
    if (!remove || dryRun) {
      io.out(`${remove ? 'would remove' : 'kept'} ${server.name}${remove ? '' : ' (--servers removes it)'}\n`);
      continue;
    }
    try {
      await server.remove();
      io.out(`removed ${server.name}\n`);
    } catch (err) {
      failed ||= (err as { statusCode?: number }).statusCode !== 404;
      io.out(`FAILED to remove ${server.name}: ${(err as Error).message}\n`);
    }
  }
  return failed;
}

/** One executor's pruned steps, a line each, then how many. */
function printPruned({ noun, steps }: PrunedSteps, dryRun: boolean, io: CommandIo): void {
  for (const s of steps) {
    const verb = dryRun ? 'would remove' : s.removed ? 'removed' : 'FAILED to remove';
    io.out(`${verb} ${s.label} run ${s.runId ?? '?'} task ${s.taskId ?? '?'}${s.error && !s.removed ? `: ${s.error}` : ''}\n`);
  }
  const removed = steps.filter((s) => s.removed).length;
  io.out(`${steps.length === 0 ? `no ${noun}s to prune` : dryRun ? `${steps.length} ${noun}(s) would be removed` : `${removed} of ${steps.length} ${noun}(s) removed`}\n`);
}

/** `--port N`: a TCP port, or a usage error. */
function serverPort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number 1-65535, got "${text}".\n${pruneUsage}`);
  return port;
}

/** The `prune` command: returns the exit code. */
export async function pruneCommand(argv: readonly string[], io: CommandIo = { out: (text) => process.stdout.write(text) }): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { all: { type: 'boolean' }, 'run-id': { type: 'string' }, 'dry-run': { type: 'boolean' }, servers: { type: 'boolean' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, pruneUsage);
  if (values.help) {
    io.out(pruneUsage);
    return CommandExit.ok;
  }
  if (positionals.length > 0) throw new UsageError(`prune takes no arguments, got "${positionals.join(' ')}".\n${pruneUsage}`);
  const port = serverPort(values.port as string | undefined);
  const docker = createDockerClient();
  await pingDocker(docker, 2000); // DockerUnavailableError: a usage error, exit 2
  const options: PruneOptions = { all: values.all === true, runId: values['run-id'] as string | undefined, dryRun: values['dry-run'] === true };
  // Every executor of the table removes what killed flows of it left (containers, Swarm services).
  const pruned = await pruneSteps(docker, options);
  for (const kind of pruned) printPruned(kind, options.dryRun === true, io);
  const serversFailed = await pruneServers(await deployedServers(docker, port), values.servers === true, options.dryRun === true, io);
  const failed = serversFailed || pruned.some((kind) => kind.steps.some((s) => !s.removed && !options.dryRun));
  return failed ? CommandExit.failed : CommandExit.ok;
}

if (require.main === module) runAsScript(pruneCommand);
