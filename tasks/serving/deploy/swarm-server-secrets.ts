/**
 * The serving token and the S3 credentials of a model-server service as
 * Swarm secrets, mounted as files readable by the server's user alone,
 * instead of service environment, which `docker service inspect` shows to
 * anyone who may inspect services. The token file is passed as
 * `dagwright serve --token-file`; the credentials are an AWS
 * shared-credentials file named by AWS_SHARED_CREDENTIALS_FILE.
 *
 * A secret's content cannot change, so each is named by the service's port
 * and settings hash (which covers the token and the credentials): new
 * settings make new secrets, the same settings find theirs again. Secrets
 * carry the model-server labels; those neither the service's spec nor its
 * previous spec (a rollback's) use are removed after a rollout
 * (`pruneServerSecrets`), and all of them with the service.
 */
import type Docker from 'dockerode';
import { credentialsAsFile, secretFile, secretPath, type SecretMount } from '../../../src/public/executors';
import { TOKEN_ENV } from '../server-options';
import { MODEL_SERVER_KIND, ServerLabels } from './server-deployment-spec';

/** What the service spec gets: environment without secrets, the extra `serve` arguments, the secrets to mount. */
export interface ServerSecrets {
  readonly env: string[];
  readonly args: string[];
  readonly mounts: SecretMount[];
}

const SERVICE_LABEL = 'dagwright.serve.service';

/** `NAME=value` lines as a record (the first `=` splits). */
function envRecord(lines: readonly string[]): Record<string, string> {
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** The secret `name` with `content`: made, or found when it exists already (same name, same settings, same content). */
async function ensureSecret(docker: Docker, name: string, content: string, labels: Record<string, string>): Promise<string> {
  try {
    const made = (await docker.createSecret({ Name: name, Labels: labels, Data: Buffer.from(content).toString('base64') })) as { id?: string; ID?: string };
    return (made.id ?? made.ID)!;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    return ((await docker.getSecret(name).inspect()) as { ID: string }).ID;
  }
}

/**
 * Moves the token and the S3 credentials out of `environment` (the server's
 * `NAME=value` lines) into secrets of the service `service` on `port`, made
 * now unless they exist.
 */
export async function serverSecrets(docker: Docker, service: string, port: number, hash: string, environment: readonly string[], user: string): Promise<ServerSecrets> {
  const env = envRecord(environment);
  const labels = { [ServerLabels.kind]: MODEL_SERVER_KIND, [ServerLabels.port]: String(port), [SERVICE_LABEL]: service };
  const mounts: SecretMount[] = [];
  const args: string[] = [];
  const mount = async (what: string, content: string): Promise<string> => {
    const name = `dw-serve-${port}-${hash}-${what}`;
    mounts.push({ SecretID: await ensureSecret(docker, name, content, labels), SecretName: name, File: secretFile(name, user) });
    return secretPath(name);
  };
  const token = env[TOKEN_ENV];
  delete env[TOKEN_ENV];
  if (token) args.push('--token-file', await mount('token', `${token}\n`));
  const credentials = credentialsAsFile(env);
  const rest = credentials === undefined ? env : { ...credentials.rest, AWS_SHARED_CREDENTIALS_FILE: await mount('aws', credentials.content) };
  return { env: Object.entries(rest).map(([k, v]) => `${k}=${v}`), args, mounts };
}

/** Model-server secrets, of the service `service` and on `port` when given. */
async function labelledSecrets(docker: Docker, filter: { service?: string; port?: number }): Promise<{ ID: string; Spec?: { Name?: string } }[]> {
  const labels = [`${ServerLabels.kind}=${MODEL_SERVER_KIND}`];
  if (filter.service !== undefined) labels.push(`${SERVICE_LABEL}=${filter.service}`);
  if (filter.port !== undefined) labels.push(`${ServerLabels.port}=${filter.port}`);
  return (await docker.listSecrets({ filters: JSON.stringify({ label: labels }) })) as { ID: string; Spec?: { Name?: string } }[];
}

/** Removes the service's secrets that neither its spec nor its previous spec mounts. */
export async function pruneServerSecrets(docker: Docker, service: Docker.Service): Promise<void> {
  const inUse = new Set(
    [service.Spec, (service as { PreviousSpec?: Docker.ServiceSpec }).PreviousSpec].flatMap(
      (spec) => (spec?.TaskTemplate as Docker.ContainerTaskSpec | undefined)?.ContainerSpec?.Secrets?.map((s) => s.SecretID) ?? [],
    ),
  );
  for (const s of await labelledSecrets(docker, { service: service.Spec?.Name })) {
    if (!inUse.has(s.ID)) await docker.getSecret(s.ID).remove().catch(() => undefined);
  }
}

/** Removes the model-server secrets of a service, or on `port` (every one when neither is given), once their services are gone. */
export async function removeServerSecrets(docker: Docker, filter: { service?: string; port?: number }): Promise<void> {
  for (const s of await labelledSecrets(docker, filter)) await docker.getSecret(s.ID).remove().catch(() => undefined);
}
