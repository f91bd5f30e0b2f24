/**
 * Removes the step containers, and on a Swarm manager the step services,
 * that crashed or killed flows left behind (found by the `dagwright.managed` label).
 *
 *   dagwright prune [--all] [--run-id ID] [--dry-run]
 *   npx ts-node src/cli/prune.ts [--all] [--run-id ID] [--dry-run]
 *
 * Without --all, containers whose flow process still runs on this machine
 * are kept. Exit codes: 0 done, 1 some container could not be removed,
 * 2 usage error or no engine.
 */
import { parseArgs } from 'node:util';
import { createDockerClient, type DockerClient, dockerHost, pingDocker } from '../executors/docker/client';
import { DockerUnavailableError } from '../executors/docker/errors';
import { type PruneOptions, pruneContainers } from '../executors/docker/prune';
import { type PrunedService, pruneServices } from '../executors/swarm/prune';

const usage = 'usage: prune [--all] [--run-id ID] [--dry-run]\n' +
  '  --all        also remove containers of flows that are still running\n' +
  '  --run-id ID  only that run\'s containers\n' +
  '  --dry-run    list, remove nothing\n';

/** The `prune` command: returns the exit code. */
export async function pruneCommand(argv: readonly string[], io: { out: (text: string) => void } = { out: (text) => process.stdout.write(text) }): Promise<number> {
  const out = { write: io.out };
  let values: { all?: boolean; 'run-id'?: string; 'dry-run'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { all: { type: 'boolean' }, 'run-id': { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    out.write(usage);
    return 0;
  }
  const docker = createDockerClient();
  try {
    await pingDocker(docker, 2000, dockerHost());
  } catch (err) {
    if (!(err instanceof DockerUnavailableError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 2;
  }
  const pruned = await pruneContainers(docker, { all: values.all, runId: values['run-id'], dryRun: values['dry-run'] });
  for (const c of pruned) {
    const verb = values['dry-run'] ? 'would remove' : c.removed ? 'removed' : 'FAILED to remove';
    out.write(`${verb} ${c.id} (${c.state}) run ${c.runId ?? '?'} task ${c.taskId ?? '?'}${c.error && !c.removed ? `: ${c.error}` : ''}\n`);
  }
  const removed = pruned.filter((c) => c.removed).length;
  out.write(
    `${pruned.length === 0 ? 'no containers to prune' : values['dry-run'] ? `${pruned.length} container(s) would be removed` : `${removed} of ${pruned.length} container(s) removed`}\n`,
  );
  const services = await swarmServices(docker, { all: values.all, runId: values['run-id'], dryRun: values['dry-run'] });
  for (const s of services) {
    const verb = values['dry-run'] ? 'would remove' : s.removed ? 'removed' : 'FAILED to remove';
    out.write(`${verb} service ${s.name} run ${s.runId ?? '?'} task ${s.taskId ?? '?'}${s.error && !s.removed ? `: ${s.error}` : ''}\n`);
  }
  const failed = [...pruned, ...services].some((c) => !c.removed && !values['dry-run']);
  return failed ? 1 : 0;
}

/** Swarm services left behind, when this engine manages a swarm; none otherwise. */
async function swarmServices(docker: DockerClient, options: PruneOptions): Promise<PrunedService[]> {
  const swarm = (await docker.info()) as { Swarm?: { ControlAvailable?: boolean } };
  return swarm.Swarm?.ControlAvailable ? pruneServices(docker, options) : [];
}

if (require.main === module) {
  pruneCommand(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
