import { createHash } from 'node:crypto';
import type { DockerClient } from '../container/engine-client';

/** Where Swarm mounts a service's secrets in its containers. */
const secretsDir = '/run/secrets';

/** The AWS variables that are credentials; with them in a file, `docker service inspect` shows none. */
const credentialVars = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;

/** The file a secret is mounted as: readable by `user` ("uid:gid") alone. */
export function secretFile(name: string, user: string | undefined): SecretMount['File'] {
  const [uid, gid] = (user ?? '0:0').split(':');
  return { Name: name, UID: uid || '0', GID: gid || '0', Mode: 0o400 };
}

/** How a service names a secret to mount (the engine's `SecretReference`). */
export interface SecretMount {
  readonly SecretID: string;
  readonly SecretName: string;
  readonly File: { readonly Name: string; readonly UID: string; readonly GID: string; readonly Mode: number };
}

/** A secret parameter's variable (see secretEnvName), not one already naming a file. */
const isSecretParam = (variable: string) => variable.startsWith('DAGWRIGHT_SECRET_') && !variable.endsWith('_FILE');

/** An AWS shared-credentials file with one `default` profile. */
function credentialsFile(env: Readonly<Record<string, string>>): string {
  const lines = ['[default]', `aws_access_key_id = ${env.AWS_ACCESS_KEY_ID}`, `aws_secret_access_key = ${env.AWS_SECRET_ACCESS_KEY}`];
  if (env.AWS_SESSION_TOKEN) lines.push(`aws_session_token = ${env.AWS_SESSION_TOKEN}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The S3 credentials of `env` as the content of an AWS shared-credentials
 * file, and `env` without them (and without AWS_PROFILE: the file has one
 * profile, `default`); undefined when `env` holds no key pair. For a Swarm
 * secret mounted at `secretPath(name)`, named by `AWS_SHARED_CREDENTIALS_FILE`.
 */
export function credentialsAsFile(env: Readonly<Record<string, string>>): { content: string; rest: Record<string, string> } | undefined {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return undefined;
  const rest: Record<string, string> = { ...env };
  for (const key of credentialVars) delete rest[key];
  delete rest.AWS_PROFILE;
  return { content: credentialsFile(env), rest };
}

/** Where Swarm mounts the secret `name` in a service's containers. */
export function secretPath(name: string): string {
  return `${secretsDir}/${name}`;
}

/**
 * Keeps the S3 credentials out of step services' specs: instead of
 * environment variables, which `docker service inspect` shows to anyone who
 * may inspect services, they become one Swarm secret (encrypted in the
 * managers' raft log, sent only to nodes that run a step), mounted as an AWS
 * shared-credentials file readable only by the step's user, and named by
 * `AWS_SHARED_CREDENTIALS_FILE`, which every AWS SDK reads. One secret per
 * executor and set of credentials; `close()` removes them.
 */
export class StepSecrets {
  private readonly created = new Map<string, Promise<{ id: string; name: string }>>();

  constructor(
    private readonly docker: DockerClient,
    private readonly session: string,
    private readonly labels: Readonly<Record<string, string>>,
  ) {}

  /**
   * `env` without the credentials and the secret parameters (each
   * `DAGWRIGHT_SECRET_<NAME>` becomes `DAGWRIGHT_SECRET_<NAME>_FILE`, read by
   * the step), and the secrets to mount; `env` unchanged (no mounts) when it
   * holds neither.
   */
  async apply(env: Readonly<Record<string, string>>, user: string | undefined): Promise<{ env: Record<string, string>; secrets: SecretMount[] }> {
    const file = credentialsAsFile(env);
    const rest: Record<string, string> = file?.rest ?? { ...env };
    const secrets: SecretMount[] = [];
    const mount = async (kind: string, content: string): Promise<string> => {
      const { id, name } = await this.secretFor(kind, content);
      secrets.push({ SecretID: id, SecretName: name, File: secretFile(name, user) });
      return secretPath(name);
    };
    if (file !== undefined) rest.AWS_SHARED_CREDENTIALS_FILE = await mount('aws', file.content);
    for (const variable of Object.keys(rest).filter(isSecretParam)) {
      rest[`${variable}_FILE`] = await mount('param', rest[variable]);
      delete rest[variable];
    }
    return { env: rest, secrets };
  }

  /** One Swarm secret per distinct content, made once and shared by the steps that need it. */
  private secretFor(kind: string, content: string): Promise<{ id: string; name: string }> {
    const digest = createHash('sha256').update(content).digest('hex').slice(0, 12);
    let secret = this.created.get(digest);
    if (secret === undefined) {
      secret = this.create(`dw-${kind}-${this.session}-${digest}`.slice(0, 63), content);
      this.created.set(digest, secret);
      secret.catch(() => this.created.delete(digest));
    }
    return secret;
  }

  private async create(name: string, content: string): Promise<{ id: string; name: string }> {
    const made = (await this.docker.createSecret({ Name: name, Labels: { ...this.labels }, Data: Buffer.from(content).toString('base64') })) as { id?: string; ID?: string };
    return { id: (made.id ?? made.ID)!, name };
  }

  /** Removes the secrets made (after the services that use them are gone: the engine refuses to remove a secret in use). */
  async close(): Promise<void> {
    const made = await Promise.all([...this.created.values()].map((p) => p.catch(() => undefined)));
    this.created.clear();
    await Promise.all(made.map((s) => (s ? this.docker.getSecret(s.id).remove().catch(() => {}) : undefined)));
  }
}
