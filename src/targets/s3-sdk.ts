import type * as ClientS3 from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';

/**
 * The AWS SDK takes about 150 ms to load. Every flow script and container
 * step imports dagwright, but only those that touch S3 should pay for it:
 * these stand for the SDK's modules and load them on first use.
 */
function lazyModule<T extends object>(load: () => T): T {
  let loaded: T | undefined;
  return new Proxy({} as T, { get: (_, name) => (loaded ??= load())[name as keyof T] });
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const clientS3 = lazyModule<typeof ClientS3>(() => require('@aws-sdk/client-s3'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const libStorage = lazyModule<typeof LibStorage>(() => require('@aws-sdk/lib-storage'));
