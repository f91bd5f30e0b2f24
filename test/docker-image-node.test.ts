/**
 * Steps run on the Node.js of their flow, or the flow says they do not: a
 * runner image that carries another major version of Node.js than the driver
 * draws a warning naming both versions and how to rebuild. Real images on the
 * real engine (FROM scratch with only NODE_VERSION set, as the official and the
 * offline node images set it), under test tags.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import { createDockerClient } from '../src/executors/docker';
import { ensureRunnerImage } from '../src/executors/docker/runner-image';
import { describeDocker } from './helpers/docker';
import { captureLogger } from './helpers/log-capture';

describeDocker('the runner image and the flow run on the same Node.js major', () => {
  const docker = createDockerClient();
  const made: string[] = [];

  /** An image that says it carries Node.js `version` (nothing else in it: it is never run). */
  async function imageSaying(version: string): Promise<string> {
    const image = `dagwright/runner:node-test-${process.pid}-${version.replace(/\./g, '-')}`;
    const dir = mkdtempSync(join(tmpdir(), 'dagwright-image-node-'));
    try {
      writeFileSync(join(dir, 'Dockerfile'), `FROM scratch\nENV NODE_VERSION=${version}\nCMD ["node"]\n`);
      const stream = (await docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: image, rm: true })) as unknown as Readable;
      await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    made.push(image);
    return image;
  }

  afterAll(async () => {
    for (const image of made) await docker.getImage(image).remove({ force: true }).catch(() => {});
  });

  it('warns, naming both versions and the fix, when the image carries another major', async () => {
    const driverMajor = Number(process.versions.node.split('.')[0]);
    const other = `${driverMajor === 18 ? 16 : 18}.20.8`;
    const image = await imageSaying(other);
    const { logger, lines } = captureLogger('info');
    expect(await ensureRunnerImage(docker, { logger, image })).toBe(false); // there: nothing built
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain(`steps run on Node.js ${other} in ${image}, but this flow runs on Node.js ${process.versions.node}`);
    expect(warnings[0]!.msg).toContain('containers/build');
    expect(warnings[0]).toMatchObject({ imageNode: other, flowNode: process.versions.node });
  });

  it('says nothing when the image carries the flow’s major version', async () => {
    const [major] = process.versions.node.split('.');
    const image = await imageSaying(`${major}.0.1`);
    const { logger, lines } = captureLogger('info');
    expect(await ensureRunnerImage(docker, { logger, image })).toBe(false);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });
});
