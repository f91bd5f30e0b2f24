/**
 * A model server as a replicated Docker Swarm service: on the host network
 * (the engine here has no bridge), restarted on failure, run as the invoking
 * uid:gid with no capabilities, the local store bind-mounted at its own path
 * (on a cluster, every node must have it; or use s3://).
 *
 * A rolling update when the image or a setting changes: one task at a time,
 * start-first. The new task's server finds the port held by the task it
 * replaces, loads and warms its model and waits for the port
 * (`--wait-for-port`), and says so in its ready file; its health check
 * passes once that file is there and the port answers ready, so Swarm stops
 * the old task only when the new one is warmed. The old server, stopped, hands the port over (`--handover-ms`): it
 * stops listening, the warmed one binds within milliseconds, and its open
 * connections are served until the new one answers. A task that fails rolls
 * the update back; the old settings keep serving.
 *
 * The host network binds a port once per node, so each replica needs a node
 * of its own: `replicas` may not exceed the nodes that take tasks. The
 * placement limit is 2 a node, not 1: a start-first replacement must fit
 * beside the task it replaces (with 1, Swarm never places it: "max replicas
 * per node limit exceed").
 *
 * The image is named by its tag: each node runs the one it has under that
 * tag (build it on every node, or push it to a registry they pull from).
 *
 * Services carry `dagwright.kind=model-server` (their containers do not, so
 * the Docker deployment never mistakes them for its own); `dagwright prune`
 * lists them and removes them with --servers.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { SwarmUnavailableError } from '../../../src/public/executors';
import {
  DeploymentError,
  HANDOVER_MS,
  imageId,
  localStorePath,
  logText,
  MODEL_SERVER_KIND,
  readableLog,
  readyProbe,
  SERVER_IMAGE,
  ServerLabels,
  serveArgs,
  serverEnvironment,
  serverLabels,
  serverUser,
  type ServerDeploymentSpec,
  settingsHash,
} from './server-deployment-spec';
import { pruneServerSecrets, removeServerSecrets, type ServerSecrets, serverSecrets } from './swarm-server-secrets';

export interface SwarmServerSpec extends ServerDeploymentSpec {
  /** Tasks of the service, one a node; default 1. */
  readonly replicas?: number;
  /** One task on every node that takes tasks (a global service), instead of `replicas`. */
  readonly everyNode?: boolean;
}

export interface DeployedService {
  readonly serviceId: string;
  readonly name: string;
  /** False when the service already ran these settings. */
  readonly changed: boolean;
}

/** Update states in which the service does not run what it was last asked to. */
const UNSETTLED = new Set(['updating', 'paused', 'rollback_started', 'rollback_paused', 'rollback_completed']);
/** Update states that end a rollout as failed. */
const FAILED = new Set(['paused', 'rollback_paused', 'rollback_completed']);
/** Task states after which its container has stopped. */
const ENDED = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

interface SwarmTask {
  ID: string;
  Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
  Status?: { State?: string; Err?: string };
  DesiredState?: string;
}

/** `dagwright-serve-<model>-<port>`: one service per model and port, updated in place. */
export function swarmServiceName(spec: ServerDeploymentSpec): string {
  const slug = spec.model.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return `dagwright-serve-${slug}-${spec.port}`;
}

function rollout(order: 'start-first', failureAction: 'rollback' | 'pause'): Docker.UpdateConfig {
  return { Parallelism: 1, Delay: 0, FailureAction: failureAction, Monitor: 2e9, MaxFailureRatio: 0, Order: order };
}

/** Replicated (`replicas` tasks, at most 2 a node: see above) or global (one on every node; a replacement starts beside the task it replaces). */
function serviceMode(spec: SwarmServerSpec): Pick<Docker.ServiceSpec, 'Mode'> & { Placement: Docker.TaskSpec['Placement'] } {
  if (spec.everyNode) return { Mode: { Global: {} }, Placement: {} };
  return { Mode: { Replicated: { Replicas: spec.replicas ?? 1 } }, Placement: { MaxReplicas: 2 } };
}

/**
 * The service's spec: what `docker service create` and each update send; the token and S3 credentials as mounted
 * secrets (swarm-server-secrets.ts). `noNewPrivileges` needs API 1.44 (engine 25).
 */
function serviceSpec(spec: SwarmServerSpec, image: string, hash: string, secrets: ServerSecrets, noNewPrivileges: boolean): Docker.ServiceSpec {
  const store = localStorePath(spec);
  const name = swarmServiceName(spec);
  const { Mode, Placement } = serviceMode(spec);
  return {
    Name: name,
    Labels: serverLabels(spec, hash),
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Args: [...serveArgs(spec), ...secrets.args],
        Env: secrets.env,
        Secrets: secrets.mounts,
        User: serverUser(spec),
        // The hash here too: a new image under the same tag changes the task template, so the tasks roll.
        Labels: { [ServerLabels.settings]: hash, 'dagwright.serve.service': name },
        Mounts: store === undefined ? [] : [{ Type: 'bind', Source: store, Target: store, ReadOnly: false }],
        CapabilityDrop: ['ALL'],
        ...(noNewPrivileges ? { Privileges: { NoNewPrivileges: true } as Docker.ContainerSpec['Privileges'] } : {}),
        // Looked at every second (a warmed replacement is noticed at once), but a replica is killed as unhealthy only after
        // 5 failures in a row of up to 10 s each: on a loaded node starting the probe's `node` alone can take seconds.
        HealthCheck: { Test: readyProbe(spec), Interval: 1e9, Timeout: 10e9, Retries: 5, StartPeriod: 60e9 },
        // Enough for the handover: serving open connections until the replacement answers, then finishing them.
        StopGracePeriod: (HANDOVER_MS + 20_000) * 1e6,
      },
      RestartPolicy: { Condition: 'any', Delay: 1e9, MaxAttempts: 0 },
      Placement,
      Networks: [{ Target: 'host' }],
    },
    Mode,
    UpdateConfig: rollout('start-first', 'rollback'),
    RollbackConfig: rollout('start-first', 'pause'),
  };
}

/** Model-server services (on `port`, when given). */
export async function serverServices(docker: Docker, port?: number): Promise<Docker.Service[]> {
  const labels = [`${ServerLabels.kind}=${MODEL_SERVER_KIND}`, ...(port === undefined ? [] : [`${ServerLabels.port}=${port}`])];
  return (await docker.listServices({ filters: JSON.stringify({ label: labels }) })) as Docker.Service[];
}

/** The service named `name`; undefined when there is none, or no swarm at all (503: this engine is no manager). */
async function findService(docker: Docker, name: string): Promise<Docker.Service | undefined> {
  try {
    return (await docker.getService(name).inspect()) as Docker.Service;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404 || status === 503) return undefined;
    throw err;
  }
}

/** The service has the mode `spec` asks for: global, or replicated with that many replicas. */
function hasMode(service: Docker.Service, spec: SwarmServerSpec): boolean {
  const mode = service.Spec?.Mode;
  return spec.everyNode ? mode?.Global !== undefined : mode?.Replicated?.Replicas === (spec.replicas ?? 1);
}

/** The service runs these settings in that mode, and no update is under way or undone. */
function runsSettings(service: Docker.Service, hash: string, spec: SwarmServerSpec): boolean {
  return service.Spec?.Labels?.[ServerLabels.settings] === hash && hasMode(service, spec) && !UNSETTLED.has(service.UpdateStatus?.State ?? 'completed');
}

/** Whether the model-server service for `spec` exists with its current settings and is not mid-update or rolled back. */
export async function swarmServerCurrent(docker: Docker, spec: SwarmServerSpec): Promise<boolean> {
  const hash = settingsHash(await imageId(docker, spec.image ?? SERVER_IMAGE), spec);
  const service = await findService(docker, swarmServiceName(spec));
  return service !== undefined && runsSettings(service, hash, spec);
}

/**
 * Refuses an engine that is no Swarm manager, and more replicas than nodes that take tasks. Returns how many tasks
 * the service runs once rolled out (every node's one, for a global service).
 */
async function checkSwarm(docker: Docker, spec: SwarmServerSpec): Promise<{ noNewPrivileges: boolean; tasks: number }> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
    throw new SwarmUnavailableError(process.env.DOCKER_HOST || 'unix:///var/run/docker.sock', info.Swarm?.LocalNodeState ?? '');
  }
  const nodes = (await docker.listNodes()) as { Spec?: { Availability?: string }; Status?: { State?: string } }[];
  const usable = nodes.filter((n) => n.Spec?.Availability === 'active' && n.Status?.State === 'ready').length;
  const replicas = spec.everyNode ? usable : (spec.replicas ?? 1);
  if (replicas > usable) {
    throw new DeploymentError(
      `replicas ${replicas}: this swarm has ${usable} node(s) that take tasks, and each replica needs a node of its own ` +
        '(on the host network a port is bound once per node). Lower replicas or add nodes.',
    );
  }
  const api = /^(\d+)\.(\d+)/.exec(String(((await docker.version()) as { ApiVersion?: string }).ApiVersion ?? ''));
  return { noNewPrivileges: api !== null && (Number(api[1]) > 1 || Number(api[2]) >= 44), tasks: replicas };
}

/** Creates the service and waits until its tasks run; removes it again when they cannot start. */
async function createServerService(docker: Docker, body: Docker.ServiceSpec, hash: string, replicas: number, logger?: Logger): Promise<string> {
  const name = body.Name!;
  logger?.info({ service: name, replicas }, `creating model server service ${name}`);
  const created = (await docker.createService(body as Docker.CreateServiceOptions)) as { ID?: string; id?: string };
  const id = created.ID ?? created.id ?? name;
  try {
    await waitForRollout(docker, id, name, hash, replicas, logger);
  } catch (err) {
    // Nothing served before: leave no crash-looping service (nor its secrets) behind.
    await docker.getService(id).remove().catch(() => undefined);
    await pruneServerSecrets(docker, { Spec: { Name: name } } as Docker.Service).catch(() => undefined);
    throw err;
  }
  return id;
}

/**
 * Swarm undid a rolling update. `byEngine`: no server of the new settings exited with an error; the engine failed a
 * task (under load an engine can fail a healthy host-network task with "network sandbox does not exist for container",
 * moby/moby#31698), so the same update may well succeed when tried again.
 */
class RolloutFailedError extends DeploymentError {
  constructor(
    message: string,
    readonly byEngine: boolean,
  ) {
    super(message);
  }
}

/** Updates the service to `body` and waits for the rollout; tries once more when the engine, not a server, failed it. */
async function updateServerService(docker: Docker, existing: Docker.Service, body: Docker.ServiceSpec, hash: string, spec: SwarmServerSpec, tasks: number, logger?: Logger): Promise<void> {
  try {
    await rollServerService(docker, existing, body, hash, spec, tasks, logger);
  } catch (err) {
    if (!(err instanceof RolloutFailedError && err.byEngine)) throw err;
    logger?.warn({ service: body.Name, error: err.message }, `the engine failed the rolling update of ${body.Name}; trying it once more`);
    await rollServerService(docker, (await docker.getService(existing.ID).inspect()) as Docker.Service, body, hash, spec, tasks, logger);
  }
  await pruneServerSecrets(docker, (await docker.getService(existing.ID).inspect()) as Docker.Service);
}

/** Updates the service to `body` (unless that update is already under way) and waits for the rollout. */
async function rollServerService(docker: Docker, existing: Docker.Service, body: Docker.ServiceSpec, hash: string, spec: SwarmServerSpec, tasks: number, logger?: Logger): Promise<void> {
  const name = body.Name!;
  const sameSettings = existing.Spec?.Labels?.[ServerLabels.settings] === hash;
  if (sameSettings && existing.UpdateStatus?.State === 'updating') {
    logger?.info({ service: name }, `an update of ${name} to these settings is under way; waiting for it`);
  } else {
    // The same spec again after a failed or paused update: ForceUpdate makes Swarm roll the tasks anyway. Not for a new replica count alone.
    const again = sameSettings && hasMode(existing, spec) ? 1 : 0;
    const forceUpdate = ((existing.Spec?.TaskTemplate as { ForceUpdate?: number } | undefined)?.ForceUpdate ?? 0) + again;
    logger?.info({ service: name, tasks }, `rolling model server service ${name} over to new settings`);
    await docker.getService(existing.ID).update({ _query: { version: existing.Version?.Index }, _body: { ...body, TaskTemplate: { ...body.TaskTemplate, ForceUpdate: forceUpdate } } });
  }
  await waitForRollout(docker, existing.ID, name, hash, tasks, logger);
}

/**
 * Makes sure the model-server service for the model and port runs exactly
 * these settings: creates it, or rolls its tasks over to them one at a time
 * (start-first). Resolves once every replica runs them and the tasks they
 * replaced have stopped; throws `DeploymentError` when Swarm rolled it back.
 */
export async function ensureSwarmServer(docker: Docker, spec: SwarmServerSpec, logger?: Logger): Promise<DeployedService> {
  const { noNewPrivileges, tasks } = await checkSwarm(docker, spec);
  const image = spec.image ?? SERVER_IMAGE;
  const hash = settingsHash(await imageId(docker, image), spec);
  const name = swarmServiceName(spec);
  const existing = await findService(docker, name);
  if (existing && runsSettings(existing, hash, spec)) return { serviceId: existing.ID, name, changed: false };
  const secrets = await serverSecrets(docker, name, spec.port, hash, serverEnvironment(spec), serverUser(spec));
  const body = serviceSpec(spec, image, hash, secrets, noNewPrivileges);
  if (!existing) return { serviceId: await createServerService(docker, body, hash, tasks, logger), name, changed: true };
  await updateServerService(docker, existing, body, hash, spec, tasks, logger);
  return { serviceId: existing.ID, name, changed: true };
}

/** The last lines a task's server logged, for an error message. */
async function taskLogTail(docker: Docker, task: SwarmTask | undefined): Promise<string> {
  if (!task) return '';
  try {
    // @types/dockerode does not declare Task.logs (GET /tasks/{id}/logs), which dockerode has.
    const handle = docker.getTask(task.ID) as unknown as { logs(options: object): Promise<Buffer> };
    const bytes = await handle.logs({ stdout: true, stderr: true, tail: 8 });
    return `Its log ends:\n${readableLog(logText(Buffer.from(bytes)))}`;
  } catch {
    return '';
  }
}

interface Rollout {
  readonly state: string | undefined;
  readonly message: string;
  /** Tasks with the new settings that run (healthy) and are meant to. */
  readonly running: number;
  /** Tasks with other settings whose containers have not stopped yet. */
  readonly others: number;
  /** Tasks with the new settings that failed or were rejected. */
  readonly failed: readonly SwarmTask[];
}

async function rolloutOf(docker: Docker, id: string, hash: string): Promise<Rollout> {
  const service = (await docker.getService(id).inspect()) as Docker.Service;
  const tasks = (await docker.listTasks({ filters: JSON.stringify({ service: [id] }) })) as SwarmTask[];
  const ours = tasks.filter((t) => t.Spec?.ContainerSpec?.Labels?.[ServerLabels.settings] === hash);
  return {
    state: service.UpdateStatus?.State,
    message: service.UpdateStatus?.Message ?? '',
    running: ours.filter((t) => t.DesiredState === 'running' && t.Status?.State === 'running').length,
    others: tasks.filter((t) => !ours.includes(t) && !ENDED.has(t.Status?.State ?? 'shutdown')).length,
    failed: ours.filter((t) => t.Status?.State === 'failed' || t.Status?.State === 'rejected'),
  };
}

/**
 * Waits until `replicas` tasks with these settings run (healthy), the
 * containers of the tasks they replace have stopped (Swarm stops one about
 * 2 s after its replacement is healthy), and the update, if any, is
 * complete. Throws when Swarm rolled the update back, when a new service's
 * tasks keep failing, or after a deadline that grows with the replicas.
 */
async function waitForRollout(docker: Docker, id: string, name: string, hash: string, replicas: number, logger?: Logger): Promise<void> {
  const deadline = Date.now() + 60_000 + replicas * 60_000;
  const reported = new Set<string>();
  for (;;) {
    const { state, message, running, others, failed } = await rolloutOf(docker, id, hash);
    const why = failed[0]?.Status?.Err ?? 'no reason given';
    if (state !== undefined && FAILED.has(state)) {
      const text = `the rolling update of service ${name} failed and ended ${state} (${message}: ${why}); the previous settings keep serving. ${await taskLogTail(docker, failed[0])}`;
      throw new RolloutFailedError(text, !/non-zero exit/.test(`${message} ${why}`));
    }
    if (running >= replicas && others === 0 && (state === undefined || state === 'completed')) return;
    for (const t of failed.filter((f) => !reported.has(f.ID))) {
      reported.add(t.ID);
      logger?.warn({ service: name, error: t.Status?.Err }, `a task of ${name} failed: ${t.Status?.Err ?? 'no reason given'}`);
    }
    if (state === undefined && failed.length >= 3) throw new DeploymentError(`the tasks of the new service ${name} keep failing (${why}). ${await taskLogTail(docker, failed[0])}`);
    if (Date.now() > deadline) throw new DeploymentError(`service ${name} did not roll out in time: ${running} of ${replicas} task(s) with the new settings run.`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Removes a model-server service and its secrets; Swarm stops its servers. */
export async function removeSwarmServer(docker: Docker, service: Docker.Service): Promise<void> {
  await docker.getService(service.ID).remove();
  await removeServerSecrets(docker, { service: service.Spec?.Name });
}

/** Removes the model-server services on `port` (all of them when no port is given), and their secrets. */
export async function removeSwarmServers(docker: Docker, port?: number): Promise<number> {
  const services = await serverServices(docker, port);
  for (const s of services) await removeSwarmServer(docker, s).catch(() => undefined);
  await removeServerSecrets(docker, { port });
  return services.length;
}
