/**
 * Vitest global setup: one s3rver for the whole run, on 127.0.0.1 and a free
 * port. Tests read its endpoint with `inject('s3Endpoint')` and make their
 * own buckets (see test/helpers/s3.ts), so test files never share one.
 */
import type { TestProject } from 'vitest/node';
import { startS3Server } from '../helpers/s3-server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the test S3 server. */
    s3Endpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startS3Server();
  project.provide('s3Endpoint', server.endpoint);
  return () => server.close();
}
