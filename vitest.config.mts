import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real processes, containers and servers: keep the 2-core machine from thrashing.
    maxWorkers: 2,
    globalSetup: ['test/setup/s3-server.ts'],
  },
});
