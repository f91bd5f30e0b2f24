import type Docker from 'dockerode';
import { DockerUnavailableError } from './errors';

export type DockerClient = Docker;

/** Where `createDockerClient()` connects: DOCKER_HOST, or the default socket. */
export function dockerHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

/**
 * A dockerode client for DOCKER_HOST (unix://, tcp://, ssh:// as dockerode
 * reads it) or the default socket. dockerode is loaded here, on first use, so
 * that loading dagwright (in every step's container too) does not pay for it.
 */
export function createDockerClient(): DockerClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const DockerCtor = require('dockerode') as typeof Docker;
  return new DockerCtor();
}

/** Resolves when the engine answers a ping within `timeoutMs`; throws DockerUnavailableError otherwise. */
export async function pingDocker(docker: DockerClient, timeoutMs = 1000, host = dockerHost()): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    await Promise.race([
      // dockerode 5 takes options (an abort signal) that @types/dockerode 4 does not declare.
      (docker.ping as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, { abortSignal: abort.signal }),
      new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true })),
    ]);
  } catch (err) {
    throw new DockerUnavailableError(host, err);
  } finally {
    clearTimeout(timer);
  }
}

/** The HTTP status of a failed engine request (dockerode puts it on the error), if any. */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}
