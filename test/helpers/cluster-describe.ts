/**
 * `describeCluster`: a describe block that needs a multi-node swarm on this
 * machine (root, the tools of cluster.ts, the machine's engine for images).
 * Without them it is skipped loudly, and fails under CI=true.
 */
import { describe, expect, it } from 'vitest';
import { clusterProblem } from './cluster';
import { dockerAvailable, dockerProblem } from './docker';

/** Why no cluster can be made here (with the machine's engine that provides `image`), or undefined. */
export function clusterTestProblem(image: string): string | undefined {
  return dockerAvailable ? clusterProblem() : `${dockerProblem} (the machine's engine provides ${image})`;
}

export function describeCluster(name: string, image: string, fn: () => void): void {
  const problem = clusterTestProblem(image);
  if (problem === undefined) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => it('needs a cluster (CI=true: failing instead of skipping)', () => expect.fail(problem)));
    return;
  }
  console.warn(`\n*** SKIPPED "${name}": ${problem}\n`);
  describe.skip(name, fn);
}
