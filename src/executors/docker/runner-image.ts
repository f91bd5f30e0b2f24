import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DagwrightError } from '../../errors';
import { type DockerClient, statusCode } from '../container/engine-client';
import { nodeMajor, warnOnNodeMismatch } from '../container/image-node';

/** Steps run on the major version of Node.js that runs the flow. */
const major = nodeMajor(process.versions.node);
/** The public base of the runner image, where a registry answers. */
export const registryBaseImage = `node:${major}-bookworm-slim`;
/** The base made from the node binary running this flow (no registry needed; `containers/base/build-base-image`). */
export const offlineBaseImage = `dagwright/node-base:${major}`;

/** The runner image is missing and could not be built; `--executor auto` then runs in process. */
export class RunnerImageBuildError extends DagwrightError {
  constructor(
    readonly image: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`the runner image ${image} is missing and could not be built: ${reason}. Build it with \`containers/build\` (\`--offline\` without a registry), or run with --executor inprocess.`, { cause });
  }
}

/** The project's `containers/` folder, found upwards from this file (source and compiled layouts differ in depth). */
export function containersDir(from: string = __dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'containers', 'runner', 'Dockerfile'))) return join(dir, 'containers');
    if (dirname(dir) === dir) return undefined;
  }
}

async function hasImage(docker: DockerClient, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if (statusCode(err) === 404) return false;
    throw err;
  }
}

/** Follows a build or pull stream to its end, logging its progress; rejects on an error in the stream, not only on the request. */
function followProgress(docker: DockerClient, stream: Readable, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err ?? events.find((e) => e.error || e.errorDetail);
        if (failed) reject(failed instanceof Error ? failed : new Error((failed as { error?: string }).error ?? 'build failed'));
        else resolve();
      },
      (event: { stream?: string; status?: string; progress?: string }) => {
        const line = (event.stream ?? [event.status, event.progress].filter(Boolean).join(' ')).trim();
        if (line) onLine(line);
      },
    );
  });
}

/** Pulls the public base, giving up after `timeoutMs` (no registry: the pull hangs or fails). */
async function pullBase(docker: DockerClient, logger: Logger, timeoutMs: number): Promise<boolean> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const stream = (await (docker.pull as unknown as (tag: string, opts: object) => Promise<Readable>).call(docker, registryBaseImage, { abortSignal: abort.signal })) as Readable;
    await followProgress(docker, stream, (line) => logger.debug({ image: registryBaseImage }, line));
    return true;
  } catch (err) {
    logger.info({ image: registryBaseImage, reason: (err as Error).message }, `cannot pull ${registryBaseImage}; building the offline base from this machine's node`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the offline base with the project's script (it copies the node running this flow and its libraries). */
function buildOfflineBase(containers: string, logger: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = join(containers, 'base', 'build-base-image');
    const child = spawn('bash', [script, '--node', process.execPath, offlineBaseImage], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (d: Buffer) => {
      output += d.toString();
      for (const line of d.toString().split('\n')) if (line.trim()) logger.info({ image: offlineBaseImage }, line.trim());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited with ${code}: ${output.trim().split('\n').slice(-3).join(' / ')}`))));
  });
}

export interface EnsureRunnerImageOptions {
  readonly logger: Logger;
  /** Default `dagwright/runner:latest`. */
  readonly image?: string;
  /** How long a pull of the public base may take before the offline base is used; default 20 s. */
  readonly pullTimeoutMs?: number;
}

/**
 * Makes sure the runner image is on the engine: when it is missing, builds it
 * once through the engine from `containers/runner/Dockerfile`, on the public
 * Node base of this flow's major version where a registry answers and on the
 * offline base otherwise, logging the build's progress. When it is there but
 * carries another major version of Node.js, says so (a warning). Returns true
 * when it built the image; throws `RunnerImageBuildError` when it cannot.
 */
export async function ensureRunnerImage(docker: DockerClient, options: EnsureRunnerImageOptions): Promise<boolean> {
  const image = options.image ?? 'dagwright/runner:latest';
  const { logger } = options;
  if (await hasImage(docker, image)) {
    await warnOnNodeMismatch(docker, image, logger);
    return false;
  }
  const containers = containersDir();
  if (containers === undefined) throw new RunnerImageBuildError(image, 'the containers/ folder with runner/Dockerfile was not found beside this installation');
  logger.warn({ image }, `the runner image ${image} is missing; building it once (progress follows)`);
  try {
    let base = registryBaseImage;
    if (!(await hasImage(docker, registryBaseImage)) && !(await pullBase(docker, logger, options.pullTimeoutMs ?? 20_000))) {
      if (!(await hasImage(docker, offlineBaseImage))) await buildOfflineBase(containers, logger);
      base = offlineBaseImage;
    }
    const stream = (await docker.buildImage(
      { context: join(containers, 'runner'), src: ['Dockerfile'] },
      { t: image, buildargs: { BASE_IMAGE: base }, rm: true, forcerm: true },
    )) as unknown as Readable;
    await followProgress(docker, stream, (line) => logger.info({ image }, `build: ${line}`));
    if (!(await hasImage(docker, image))) throw new Error('the engine reported success but has no such image');
    logger.info({ image, base }, `built the runner image ${image} on ${base}`);
    return true;
  } catch (err) {
    if (err instanceof RunnerImageBuildError) throw err;
    throw new RunnerImageBuildError(image, (err as Error).message, err);
  }
}
