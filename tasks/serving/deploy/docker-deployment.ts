/**
 * A model server as a long-running Docker container: host network (the
 * engine here has no bridge), restarted unless stopped, health-checked on
 * /v2/health/ready, run as the invoking uid:gid, with no capabilities.
 *
 * Replacing without a gap: when the image or a setting changes, the new
 * container starts beside the old one with `--wait-for-port`, loads and
 * warms its model while the old one keeps serving, and says so in its log;
 * only then is the old one stopped (SIGTERM: it finishes its requests) and
 * the new one takes the port within milliseconds. A new container that
 * fails is removed and the old one keeps serving.
 *
 * Containers carry `dagwright.kind=model-server` and no `dagwright.managed`
 * label: `dagwright prune` removes step leftovers, never a deployed server.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import {
  DeploymentError,
  imageId,
  localStorePath,
  logText,
  readableLog,
  readyProbe,
  SERVER_IMAGE,
  ServerLabels,
  MODEL_SERVER_KIND,
  serveArgs,
  serverEnvironment,
  serverLabels,
  serverUser,
  type ServerDeploymentSpec,
  settingsHash,
} from './server-deployment-spec';


/** A server container to deploy (the spec every target shares). */
export type DockerServerSpec = ServerDeploymentSpec;

export interface DeployedServer {
  readonly containerId: string;
  readonly name: string;
  /** False when a container with these settings was already running. */
  readonly replaced: boolean;
}

function containerOptions(spec: DockerServerSpec, image: string, name: string, hash: string): Docker.ContainerCreateOptions {
  const store = localStorePath(spec);
  return {
    name,
    Image: image,
    Cmd: serveArgs(spec),
    Env: serverEnvironment(spec),
    User: serverUser(spec),
    Labels: serverLabels(spec, hash),
    Healthcheck: { Test: readyProbe(spec), Interval: 2e9, Timeout: 2e9, Retries: 3, StartPeriod: 60e9 },
    HostConfig: {
      NetworkMode: 'host',
      RestartPolicy: { Name: 'unless-stopped' },
      Binds: store === undefined ? [] : [`${store}:${store}`],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
    },
  };
}

/** Model-server containers on `port` (any state). */
export async function serverContainers(docker: Docker, port?: number): Promise<Docker.ContainerInfo[]> {
  const labels = [`${ServerLabels.kind}=${MODEL_SERVER_KIND}`, ...(port === undefined ? [] : [`${ServerLabels.port}=${port}`])];
  return docker.listContainers({ all: true, filters: JSON.stringify({ label: labels }) });
}

/** The settings hash a running container was made with, for the completeness check. */
export async function runningServerSettings(docker: Docker, spec: DockerServerSpec): Promise<{ current: boolean; running: boolean }> {
  const hash = settingsHash(await imageId(docker, spec.image ?? SERVER_IMAGE), spec);
  const running = (await serverContainers(docker, spec.port)).filter((c) => c.State === 'running');
  return { running: running.length > 0, current: running.some((c) => c.Labels[ServerLabels.settings] === hash) };
}

async function logsOf(container: Docker.Container): Promise<string> {
  return logText((await container.logs({ stdout: true, stderr: true, tail: 200 })) as unknown as Buffer);
}

/** Waits until `container` logs `pattern`; throws with the log's tail if it exits first or `ms` passes. */
async function waitForLog(container: Docker.Container, pattern: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const logs = await logsOf(container);
    if (pattern.test(logs)) return;
    const state = (await container.inspect()).State;
    if (!state.Running || Date.now() > deadline) {
      const why = state.Running ? `did not get ready within ${ms} ms` : `exited with code ${state.ExitCode}`;
      throw new DeploymentError(`the new server container ${why}; its log ends:\n${readableLog(logs)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Makes sure a server container with exactly these settings runs on the
 * port, replacing any other one on that port without a gap. Resolves when
 * the new container has taken the port.
 */
export async function ensureDockerServer(docker: Docker, spec: DockerServerSpec, logger?: Logger): Promise<DeployedServer> {
  const image = spec.image ?? SERVER_IMAGE;
  const hash = settingsHash(await imageId(docker, image), spec);
  const existing = await serverContainers(docker, spec.port);
  const same = existing.find((c) => c.Labels[ServerLabels.settings] === hash && c.State === 'running');
  if (same) return { containerId: same.Id, name: same.Names[0]?.replace(/^\//, '') ?? same.Id, replaced: false };

  const name = `dagwright-serve-${spec.model}-${spec.port}-${hash.slice(0, 8)}`;
  await docker.getContainer(name).remove({ force: true }).catch(() => undefined); // a stopped one of the same settings
  const container = await docker.createContainer(containerOptions(spec, image, name, hash));
  logger?.info({ container: name, image, port: spec.port }, `starting model server container ${name}`);
  const old = existing.filter((c) => c.State === 'running' || c.State === 'restarting');
  try {
    await container.start();
    // Alone, it serves as soon as it has loaded; beside an old one, it waits for the port with the model warmed.
    await waitForLog(container, old.length > 0 ? /waiting for port|serving \\?"/ : /serving \\?"/, 120_000);
  } catch (err) {
    await container.remove({ force: true }).catch(() => undefined);
    throw err instanceof DeploymentError ? err : new DeploymentError(`could not start ${name}: ${(err as Error).message}`, { cause: err });
  }
  for (const c of old) {
    logger?.info({ container: c.Id.slice(0, 12) }, 'stopping the replaced model server (it finishes its requests)');
    await docker.getContainer(c.Id).stop({ t: 30 }).catch(() => undefined);
  }
  await waitForLog(container, /serving \\?"/, 30_000);
  for (const c of existing) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  logger?.info({ container: name }, `model server container ${name} serves on port ${spec.port}`);
  return { containerId: container.id, name, replaced: true };
}

/** Stops and removes the model-server containers on `port` (all of them when no port is given). */
export async function removeDockerServers(docker: Docker, port?: number): Promise<number> {
  const containers = await serverContainers(docker, port);
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  return containers.length;
}
