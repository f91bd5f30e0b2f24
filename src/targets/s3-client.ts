import type { S3Client } from '@aws-sdk/client-s3';
import { UsageError } from '../errors';
import { clientS3 } from './s3-sdk';

/** Set to 1 to address buckets as `endpoint/bucket/key` (most S3-compatible servers) instead of `bucket.endpoint/key`. */
export const PATH_STYLE_ENV = 'DAGWRIGHT_S3_FORCE_PATH_STYLE';

/**
 * Sockets per client. The scheduler checks up to 64 targets at once
 * (`checkConcurrency`), and each streamed upload sends up to 4 parts at once;
 * the SDK's own default of 50 would queue checks behind each other.
 */
export const DEFAULT_S3_MAX_SOCKETS = 128;

export interface S3ClientSettings {
  /** Where to read `AWS_ENDPOINT_URL*`, `AWS_REGION` and the path-style switch; default `process.env`. Credentials always come from the SDK's chain. */
  env?: NodeJS.ProcessEnv;
  /** Default `DEFAULT_S3_MAX_SOCKETS`. */
  maxSockets?: number;
}

function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = (env[name] ?? '').trim().toLowerCase();
  if (['', '0', 'false', 'no'].includes(value)) return false;
  if (['1', 'true', 'yes'].includes(value)) return true;
  throw new UsageError(`${name} got "${env[name]}"; expected 1 or 0.`);
}

/**
 * The endpoint the SDK would take from the environment: `AWS_ENDPOINT_URL_S3`,
 * then `AWS_ENDPOINT_URL`, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`.
 * (SDK 3.1169 reads these itself; dagwright passes them explicitly so errors
 * can name the endpoint.)
 */
export function endpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if ((env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true') return undefined;
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

/**
 * An S3 client from the standard AWS configuration: the SDK's credential
 * chain (environment, profile, SSO, container and instance roles), region
 * from `AWS_REGION` or `AWS_DEFAULT_REGION` or the profile (`us-east-1` when
 * an endpoint is set and no region is), endpoint from `AWS_ENDPOINT_URL_S3`
 * or `AWS_ENDPOINT_URL`, path-style addressing when
 * `DAGWRIGHT_S3_FORCE_PATH_STYLE=1`, and a keep-alive agent with
 * `maxSockets` sockets.
 */
export function createS3Client(settings: S3ClientSettings = {}): S3Client {
  const env = settings.env ?? process.env;
  const endpoint = endpointFromEnv(env);
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined);
  const agent = { keepAlive: true, maxSockets: settings.maxSockets ?? DEFAULT_S3_MAX_SOCKETS };
  return new clientS3.S3Client({
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    forcePathStyle: envFlag(env, PATH_STYLE_ENV),
    requestHandler: { httpAgent: agent, httpsAgent: agent, connectionTimeout: 10_000 },
    // Resolve each command's middleware stack once, not on every request: a third of the SDK's CPU time per HEAD.
    cacheMiddleware: true,
  });
}

let shared: S3Client | undefined;

/**
 * The client S3 targets use when none is injected: made from the environment
 * on first use, then shared by every target in the process so they share one
 * socket pool. Tests and embedders inject their own client instead
 * (`new S3FileSystem({ client })`).
 */
export function defaultS3Client(): S3Client {
  shared ??= createS3Client();
  return shared;
}

/**
 * Where `client` sends requests, for error messages: its configured endpoint
 * (without any user or password part), else the environment's, else AWS's
 * regional endpoint.
 */
export async function describeEndpoint(client: S3Client): Promise<string> {
  try {
    const endpoint = await client.config.endpoint?.();
    if (endpoint) {
      const port = endpoint.port ? `:${endpoint.port}` : '';
      const path = endpoint.path && endpoint.path !== '/' ? endpoint.path : '';
      return `${endpoint.protocol}//${endpoint.hostname}${port}${path}`;
    }
  } catch {
    // fall through to the other sources
  }
  const fromEnv = endpointFromEnv();
  if (fromEnv) {
    try {
      return new URL(fromEnv).origin;
    } catch {
      return '(AWS_ENDPOINT_URL is not a valid URL)';
    }
  }
  try {
    return `https://s3.${await client.config.region()}.amazonaws.com`;
  } catch {
    return 'AWS S3 (no region configured)';
  }
}
