/**
 * A first run with an engine but no runner image: the executor builds it once
 * through the engine from containers/runner, on the public Node base where a
 * registry answers and on the offline base here (no registry), with progress.
 * Built under a test tag, so the suite's own runner image is never touched.
 */
import { expect, it } from 'vitest';
import { createDockerClient } from '../src/executors/docker';
import { ensureRunnerImage } from '../src/executors/docker/runner-image';
import { describeDocker } from './helpers/docker';
import { captureLogger } from './helpers/log-capture';

describeDocker('building a missing runner image', () => {
  const docker = createDockerClient();

  it('builds it once with progress, and the image runs node', { timeout: 300_000 }, async () => {
    const image = `dagwright/runner:build-test-${process.pid}`;
    const { logger, lines } = captureLogger('debug');
    try {
      expect(await ensureRunnerImage(docker, { logger, image, pullTimeoutMs: 5000 })).toBe(true);
      expect(lines.some((l) => String(l.msg).includes(`the runner image ${image} is missing; building it once`))).toBe(true);
      expect(lines.filter((l) => String(l.msg).startsWith('build: ')).length).toBeGreaterThan(0);
      expect(lines.some((l) => String(l.msg).startsWith(`built the runner image ${image} on `))).toBe(true);
      // A second call finds it and builds nothing.
      expect(await ensureRunnerImage(docker, { logger, image })).toBe(false);
      // The image runs the major version of Node.js this flow runs on (its exit code says which).
      const c = await docker.createContainer({ Image: image, Cmd: ['node', '-e', 'process.exit(Number(process.versions.node.split(".")[0]))'], HostConfig: { NetworkMode: 'none' } });
      try {
        await c.start();
        expect(((await c.wait()) as { StatusCode: number }).StatusCode).toBe(Number(process.versions.node.split('.')[0]));
      } finally {
        await c.remove({ force: true });
      }
    } finally {
      await docker.getImage(image).remove({ force: true }).catch(() => {});
    }
  });
});
