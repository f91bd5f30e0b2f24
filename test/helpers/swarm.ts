/**
 * A one-node Docker Swarm for tests and benchmarks, on loopback only. No
 * vitest imports: bench/swarm-steps.ts uses it too.
 *
 * `joinOrCreateSwarm()` makes this engine a manager unless it already is one
 * and says whether it did; `leaveSwarm()` undoes only what it did: it leaves
 * the swarm and removes the `docker_gwbridge` bridge that `swarm init`
 * creates, so no private-range bridge is left on the machine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DockerClient } from '../../src/executors/docker';

export const repoRoot = resolve(__dirname, '../..');

/** The image swarm tests run steps in, and the flow script they need inside it. */
export const bakedImage = 'dagwright/runner-baked:latest';
export const swarmFixture = 'test/fixtures/swarm-flow.ts';
const fixtureInImage = '/app/dist/test/fixtures/swarm-flow.js';

export interface SwarmHandle {
  /** True when this process made the swarm (and must leave it). */
  readonly created: boolean;
}

async function swarmState(docker: DockerClient): Promise<{ state: string; manager: boolean }> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  return { state: info.Swarm?.LocalNodeState ?? 'inactive', manager: info.Swarm?.ControlAvailable === true };
}

export async function joinOrCreateSwarm(docker: DockerClient): Promise<SwarmHandle> {
  const { state, manager } = await swarmState(docker);
  if (state === 'active') {
    if (!manager) throw new Error('this engine is a Swarm worker; the tests need a manager (or no swarm at all)');
    return { created: false };
  }
  if (state !== 'inactive') throw new Error(`this engine's swarm state is "${state}"; wait for it to settle or run \`docker swarm leave --force\``);
  await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1', ForceNewCluster: false });
  return { created: true };
}

export async function leaveSwarm(docker: DockerClient, handle: SwarmHandle | undefined): Promise<void> {
  if (!handle?.created) return;
  // The engine removes a removed service's containers a few seconds later; after leaving nothing would.
  const filters = JSON.stringify({ label: ['dagwright.executor=swarm'] });
  let left = await docker.listContainers({ all: true, filters });
  for (let i = 0; i < 40 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 250));
    left = await docker.listContainers({ all: true, filters });
  }
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  await docker.swarmLeave({ force: true });
  // The bridge appears with the first swarm task; it may linger a moment after leaving.
  for (let i = 0; i < 20; i++) {
    try {
      await docker.getNetwork('docker_gwbridge').remove();
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Why the baked image cannot run the swarm fixture, or undefined when it can. */
export function bakedImageProblem(): string | undefined {
  const probe = spawnSync('docker', ['run', '--rm', '--network', 'none', bakedImage, 'node', '-e', `require('fs').accessSync(${JSON.stringify(fixtureInImage)})`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (probe.status === 0) return undefined;
  return (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim().split('\n').slice(-1)[0];
}

/**
 * Builds `dagwright/runner-baked:latest` when it is missing or lacks the
 * fixture: compiles the project into dist/ (`npx tsc -p tsconfig.json`), then
 * `containers/build --baked`. Takes minutes; CI builds it before the tests.
 */
export function ensureBakedImage(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void {
  const problem = bakedImageProblem();
  if (problem === undefined) return;
  log(`swarm tests: ${bakedImage} cannot run ${fixtureInImage} (${problem}); building it (npx tsc, containers/build --baked)`);
  // tsc emits even when some file of the project does not type-check; what matters is the fixture's JavaScript.
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'ignore', timeout: 600_000 });
  if (!existsSync(resolve(repoRoot, 'dist/test/fixtures/swarm-flow.js'))) throw new Error('npx tsc -p tsconfig.json did not write dist/test/fixtures/swarm-flow.js');
  const build = spawnSync('bash', [resolve(repoRoot, 'containers/build'), '--baked'], { cwd: repoRoot, encoding: 'utf8', timeout: 900_000 });
  if (build.status !== 0) throw new Error(`containers/build --baked failed:\n${build.stdout}\n${build.stderr}`);
}
