import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

/** Asks the engine at DOCKER_HOST (unix sockets) or the default socket for `/_ping`, synchronously, within 2 s. */
function engineProblem(): string | undefined {
  const host = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  if (!host.startsWith('unix://')) return undefined; // tcp/ssh: let the tests find out
  const probe = `require('http').get({ socketPath: ${JSON.stringify(host.slice('unix://'.length))}, path: '/_ping', timeout: 2000 },
    (res) => process.exit(res.statusCode === 200 ? 0 : 3)).on('error', (e) => { console.error(e.message); process.exit(4); })
    .on('timeout', () => { console.error('no answer within 2 s'); process.exit(5); });`;
  const result = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 5000 });
  if (result.status === 0) return undefined;
  return `no Docker engine answers at ${host} (${(result.stderr || result.error?.message || `exit ${result.status}`).trim()})`;
}

export const dockerProblem = engineProblem();
export const dockerAvailable = dockerProblem === undefined;

/**
 * `describe` for tests that need a real Docker engine. Without one they are
 * skipped with a loud warning; under CI=true they fail instead, since CI must
 * start an engine (.ci/docker-up).
 */
export function describeDocker(name: string, fn: () => void): void {
  if (dockerAvailable) {
    describe(name, fn);
    return;
  }
  const reason = `${dockerProblem}. Start one with .ci/docker-up and build the runner image with containers/build --offline.`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs a Docker engine (CI=true: failing instead of skipping)', () => {
        throw new Error(reason);
      });
    });
    return;
  }
  console.warn(`\n*** SKIPPED "${name}": ${reason}\n`);
  describe.skip(name, fn);
}
