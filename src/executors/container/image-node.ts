import type { Logger } from 'pino';
import { type DockerClient, statusCode } from './engine-client';

/** The major version of a Node.js version string ("24.22.3", "v20.20.2"). */
export function nodeMajor(version: string): number {
  return Number(/^v?(\d+)/.exec(version)?.[1] ?? NaN);
}

interface ImageConfig {
  Config?: { Env?: string[] | null; Labels?: Record<string, string> | null };
}

/**
 * The Node.js version an image carries, from its NODE_VERSION (set by the
 * official node images and by containers/base/build-base-image) or the offline
 * base's `dagwright.node.version` label; undefined when it says neither.
 */
export function imageNodeVersion(image: ImageConfig): string | undefined {
  const env = image.Config?.Env?.find((e) => e.startsWith('NODE_VERSION='));
  const version = env?.slice('NODE_VERSION='.length) || image.Config?.Labels?.['dagwright.node.version'];
  return version ? version.replace(/^v/, '') : undefined;
}

/**
 * Says, as a warning, when the steps' image carries another major version of
 * Node.js than the flow's own (`driver`): steps would then run on a Node.js
 * nobody chose. Returns the image's version (undefined when the image is not
 * on this engine or does not say). Never throws: the run itself reports a
 * missing image.
 */
export async function warnOnNodeMismatch(docker: DockerClient, image: string, logger: Logger, driver: string = process.versions.node): Promise<string | undefined> {
  let inspected: ImageConfig;
  try {
    inspected = (await docker.getImage(image).inspect()) as ImageConfig;
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    logger.debug({ image, err }, 'could not inspect the step image for its Node.js version');
    return undefined;
  }
  const version = imageNodeVersion(inspected);
  if (version !== undefined && nodeMajor(version) !== nodeMajor(driver)) {
    logger.warn(
      { image, imageNode: version, flowNode: driver },
      `steps run on Node.js ${version} in ${image}, but this flow runs on Node.js ${driver}: ` +
        `rebuild the images with this Node.js (containers/build, or containers/build --node PATH; --baked for Swarm and the model server), ` +
        `or run the flow with Node.js ${nodeMajor(version)}.`,
    );
  }
  return version;
}
