/**
 * What a deployed model server is made of, whether it runs as a Docker
 * container (docker-deployment.ts) or as a Swarm service
 * (swarm-deployment.ts): the `dagwright serve` arguments, its environment,
 * the user it runs as, the store it mounts, its health check, its labels,
 * and the settings hash that says whether a running server is the one
 * asked for.
 */
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { DagwrightError, parseStore } from '../../../src';
import { TOKEN_ENV } from '../server-options';

export const SERVER_IMAGE = 'dagwright/server:latest';

export const ServerLabels = {
  kind: 'dagwright.kind',
  model: 'dagwright.serve.model',
  port: 'dagwright.serve.port',
  settings: 'dagwright.serve.settings',
} as const;
export const MODEL_SERVER_KIND = 'model-server';

/** A deployment failed: no engine or image, or the new server did not become ready (the old one, if any, still serves). */
export class DeploymentError extends DagwrightError {}

/** A model server to deploy; the same for every target. */
export interface ServerDeploymentSpec {
  readonly store: string;
  readonly model: string;
  readonly alias: string;
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default `dagwright/server:latest` (containers/build --baked). */
  readonly image?: string;
  readonly maxBatchSize?: number;
  readonly maxWaitMs?: number;
  /** How often the server checks the alias (ms); default the server's (1000). */
  readonly pollMs?: number;
  /** Longest a prediction log chunk stays open (s); default the server's (10). */
  readonly logChunkSeconds?: number;
  /** Passed as DAGWRIGHT_SERVE_TOKEN, never on the command line. */
  readonly token?: string;
  /** Default: this process's uid:gid. */
  readonly user?: string;
}

/** How long a replacement waits, warmed, for the port; and how long a stopped server serves its open connections for its replacement. */
const PORT_WAIT_MS = 120_000;
export const HANDOVER_MS = 10_000;

/** The arguments after `dagwright serve`: a replacement waits warmed for the port, a stopped server hands it over. */
export function serveArgs(spec: ServerDeploymentSpec): string[] {
  return [
    '--store', spec.store, '--model', spec.model, '--alias', spec.alias, '--host', spec.host ?? '127.0.0.1', '--port', String(spec.port),
    '--wait-for-port', String(PORT_WAIT_MS), '--handover-ms', String(HANDOVER_MS), '--ready-file', READY_FILE,
    ...(spec.maxBatchSize === undefined ? [] : ['--max-batch-size', String(spec.maxBatchSize)]),
    ...(spec.maxWaitMs === undefined ? [] : ['--max-wait-ms', String(spec.maxWaitMs)]),
    ...(spec.pollMs === undefined ? [] : ['--poll-ms', String(spec.pollMs)]),
    ...(spec.logChunkSeconds === undefined ? [] : ['--log-chunk-seconds', String(spec.logChunkSeconds)]),
  ];
}

/** `NAME=value` lines: the settings this process's store file system needs (S3's endpoint and keys), and the token. Secrets: never log them. */
export function serverEnvironment(spec: ServerDeploymentSpec): string[] {
  const env = parseStore(spec.store).fs.environment().filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
  return spec.token ? [...env, `${TOKEN_ENV}=${spec.token}`] : env;
}

/** Numeric "uid:gid" the server runs as, so what it writes into the store belongs to the user who deployed it. */
export function serverUser(spec: ServerDeploymentSpec): string {
  return spec.user ?? `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
}

/** The store's folder on this machine, which the server must see at the same path (a bind mount); none for a remote store. */
export function localStorePath(spec: ServerDeploymentSpec): string | undefined {
  const store = parseStore(spec.store);
  return store.fs.localPath(store.uri);
}

/**
 * A hash of everything that makes the server what it is: the image's id, the
 * command, the environment and the user.
 */
export function settingsHash(imageId: string, spec: ServerDeploymentSpec): string {
  const settings = { imageId, args: serveArgs(spec), env: serverEnvironment(spec), user: spec.user };
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

/** The labels a deployed server (container or service) is found by. */
export function serverLabels(spec: ServerDeploymentSpec, hash: string): Record<string, string> {
  return { [ServerLabels.kind]: MODEL_SERVER_KIND, [ServerLabels.model]: spec.model, [ServerLabels.port]: String(spec.port), [ServerLabels.settings]: hash };
}

/**
 * The health check, in the container: the server's ready file exists (a
 * version is loaded and warmed, even while it waits for the port held by the
 * server it replaces) and the port answers ready (itself, or the server it
 * replaces until the handover).
 */
const READY_PROBE = [
  "const [url, file] = process.argv.slice(1);",
  "if (!require('fs').existsSync(file)) process.exit(1);",
  "fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));",
].join('\n');

/** Where a deployed server writes its ready file, inside its container. */
export const READY_FILE = '/tmp/dagwright-serve.ready';

/** The readiness URL the health check asks, on the address the server binds. */
export function readyUrl(spec: ServerDeploymentSpec): string {
  const host = !spec.host || spec.host === '0.0.0.0' || spec.host === '::' ? '127.0.0.1' : spec.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${spec.port}/v2/health/ready`;
}

/** The health check's command (exec form): warmed, and ready on the port. */
export function readyProbe(spec: ServerDeploymentSpec): string[] {
  return ['CMD', 'node', '-e', READY_PROBE, readyUrl(spec), READY_FILE];
}

/**
 * What identifies the image (part of the settings hash): for a reference by digest (`registry/name@sha256:...`, which
 * a swarm's nodes pull) that digest, which names its content; else the image's id on this engine, a
 * `DeploymentError` saying how to build it when missing.
 */
export async function imageId(docker: Docker, image: string): Promise<string> {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(image);
  if (digest) return digest[1];
  try {
    return (await docker.getImage(image).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) throw new DeploymentError(`image ${image} is not there: build it with containers/build --baked (after npm run build).`);
    throw new DeploymentError(`no Docker engine answers (${(err as Error).message}); start one (.ci/docker-up) or deploy in process.`, { cause: err });
  }
}

/** Log lines for an error message: a JSON line (the server logs with pino) shows its message, others as they are. */
export function readableLog(text: string, lines = 8): string {
  const readable = text.split('\n').filter((line) => line.trim() !== '').map((line) => {
    try {
      const entry = JSON.parse(line) as { msg?: unknown };
      return typeof entry.msg === 'string' ? entry.msg : line;
    } catch {
      return line;
    }
  });
  return readable.slice(-lines).join('\n');
}

/** The text of the engine's multiplexed (non-TTY) log bytes: each frame is an 8-byte header (stream, size) and its payload. */
export function logText(bytes: Buffer): string {
  const parts: string[] = [];
  let at = 0;
  while (at + 8 <= bytes.length && bytes[at] <= 2 && bytes.readUIntBE(at + 1, 3) === 0) {
    const size = bytes.readUInt32BE(at + 4);
    parts.push(bytes.subarray(at + 8, at + 8 + size).toString('utf8'));
    at += 8 + size;
  }
  // Not multiplexed (a TTY, or an engine that sends plain text): the bytes are the text.
  return at === 0 ? bytes.toString('utf8') : parts.join('');
}
