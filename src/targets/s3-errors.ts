import type { S3Client } from '@aws-sdk/client-s3';
import { StorageError, type StorageProblem } from '../errors';
import { describeEndpoint } from './s3-client';
import { formatS3Uri } from './s3-uri';

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status of an SDK error, when the server answered. */
export function httpStatus(err: unknown): number | undefined {
  return (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);

/**
 * The SDK's error without its other fields: service errors carry the access
 * key id (`AWSAccessKeyId`) and signing details, which must not reach logs.
 */
function sanitized(err: unknown): Error {
  const e = err as SdkErrorShape;
  const copy = new Error(e?.message ?? String(err));
  copy.name = e?.name ?? 'Error';
  return copy;
}

export interface RequestContext {
  client: S3Client;
  operation: string;
  bucket: string;
  key?: string;
}

/** Says which problem an SDK failure is, naming the bucket, the object and the endpoint. */
export async function toStorageError(err: unknown, context: RequestContext): Promise<StorageError> {
  const endpoint = await describeEndpoint(context.client);
  const e = (err ?? {}) as SdkErrorShape;
  const status = httpStatus(err);
  const code = e.Code ?? e.name ?? 'Error';
  const uri = formatS3Uri({ bucket: context.bucket, key: context.key ?? '' });
  const where = `${context.operation} ${uri} at ${endpoint}`;

  let problem: StorageProblem;
  let retryable = false;
  let text: string;
  if (code === 'NoSuchBucket') {
    problem = 'no-such-bucket';
    text = `bucket "${context.bucket}" does not exist at ${endpoint} (${context.operation} ${uri}). Create it, or fix the bucket in the URI or --store.`;
  } else if (code === 'NoSuchKey' || (status === 404 && context.operation === 'GetObject')) {
    problem = 'no-such-key';
    text = `${uri} does not exist (${context.operation} at ${endpoint}).`;
  } else if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'InvalidToken' || code === 'ExpiredToken') {
    problem = 'bad-credentials';
    text = `the server refused the credentials (${code}, HTTP ${status ?? '?'}) for ${where}. Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE.`;
  } else if (status === 403) {
    problem = 'access-denied';
    text =
      `access denied (HTTP 403${code !== 'Unknown' && code !== 'Forbidden' ? `, ${code}` : ''}) for ${where}: ` +
      `the credentials were refused or lack permission on bucket "${context.bucket}". Check the credentials and the bucket's policy.`;
  } else if (e.name === 'CredentialsProviderError') {
    problem = 'no-credentials';
    text = `no AWS credentials found for ${where}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE.`;
  } else if (/region is missing/i.test(e.message ?? '')) {
    problem = 'configuration';
    text = `no AWS region configured for ${uri}. Set AWS_REGION.`;
  } else if ((e.code !== undefined && networkCodes.has(e.code)) || e.name === 'TimeoutError' || (status === undefined && /socket hang up/i.test(e.message ?? ''))) {
    problem = 'unreachable';
    retryable = true;
    text = `cannot reach the S3 endpoint ${endpoint} (${e.code ?? e.name}) for ${context.operation} ${uri}. Check AWS_ENDPOINT_URL and the network.`;
  } else if ((status !== undefined && status >= 500) || code === 'SlowDown' || code === 'RequestTimeout') {
    problem = 'server-error';
    retryable = true;
    text = `the S3 endpoint ${endpoint} failed (HTTP ${status ?? '?'}, ${code}) for ${context.operation} ${uri}; another attempt may succeed.`;
  } else {
    problem = 'request-failed';
    text = `${where} failed${status ? ` (HTTP ${status})` : ''}: ${code}: ${e.message ?? String(err)}`;
  }
  return new StorageError({
    problem,
    operation: context.operation,
    uri,
    bucket: context.bucket,
    key: context.key,
    endpoint,
    status,
    retryable,
    message: text,
    cause: sanitized(err),
  });
}
