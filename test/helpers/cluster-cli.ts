/**
 * `.ci/swarm-cluster up|down`: a three-node Swarm on this machine for trying
 * the Swarm executor (see README, "A Swarm of several nodes on one machine").
 *
 *   up [--workers N] [--image IMG|--no-image] [--bucket NAME]
 *       makes the hosts, the registry (IMG pushed, default dagwright/runner-baked:latest)
 *       and an S3 server on the test bridge; prints the environment to use;
 *       runs in the foreground until Ctrl-C (SIGINT) or SIGTERM, then removes everything.
 *   down
 *       removes clusters whose process no longer runs (after a kill -9 or a crash).
 *
 * Exit codes: 0 ok, 1 failed, 2 usage.
 */
import { parseArgs } from 'node:util';
import { Cluster, clusterProblem, removeStaleClusters } from './cluster';

const usage = 'usage: .ci/swarm-cluster up [--workers N] [--image IMG|--no-image] [--bucket NAME] | .ci/swarm-cluster down';

function parse(argv: string[]): { command: string; workers: number; image: string | undefined; bucket: string } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { workers: { type: 'string', default: '2' }, image: { type: 'string' }, 'no-image': { type: 'boolean' }, bucket: { type: 'string', default: 'dagwright' } },
  });
  const command = positionals[0] ?? '';
  const workers = Number(values.workers);
  if (!['up', 'down'].includes(command) || positionals.length !== 1) throw new Error(`expected "up" or "down", got ${JSON.stringify(positionals.join(' '))}`);
  if (!Number.isInteger(workers) || workers < 1 || workers > 8) throw new Error(`expected --workers to be an integer from 1 to 8, got ${JSON.stringify(values.workers)}`);
  const image = values['no-image'] ? undefined : (values.image ?? 'dagwright/runner-baked:latest');
  return { command, workers, image, bucket: values.bucket! };
}

async function up(workers: number, image: string | undefined, bucket: string): Promise<void> {
  const cluster = await Cluster.up({ workers, image, s3Buckets: [bucket] });
  const env = {
    DOCKER_HOST: `unix://${cluster.manager.socket}`,
    AWS_ENDPOINT_URL: cluster.s3!.endpoint,
    DAGWRIGHT_S3_FORCE_PATH_STYLE: '1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    ...(cluster.imageRef ? { DAGWRIGHT_SWARM_IMAGE: cluster.imageRef } : {}),
  };
  const out = process.stdout;
  out.write(`cluster ${cluster.state.id}: ${cluster.hosts.map((h) => `${h.name} ${h.address}`).join(', ')}\n`);
  out.write(`registry ${cluster.registry}; S3 bucket ${bucket} at ${cluster.s3!.endpoint}\n`);
  out.write('in another shell (as root):\n');
  for (const [k, v] of Object.entries(env)) out.write(`  export ${k}=${v}\n`);
  out.write(`  npx ts-node flows/<flow>.ts --executor swarm --store s3://${bucket}/runs\n`);
  // A deployed model server answers on each host's address; a deploy checks 127.0.0.1, so it runs on the manager's host.
  out.write(`on the manager's host (its network namespace), e.g. to deploy a model server (--image dagwright/server:latest):\n`);
  out.write(`  nsenter --net=/var/run/netns/${cluster.manager.netns} npx ts-node flows/deploy.ts --target swarm --every-node --host 0.0.0.0 --image <pushed image>\n`);
  out.write('Ctrl-C removes the cluster.\n');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await cluster.down();
  out.write('cluster removed\n');
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (args.command === 'down') {
    process.stdout.write(`removed ${removeStaleClusters()} cluster(s)\n`);
    return 0;
  }
  const problem = clusterProblem();
  if (problem) {
    process.stderr.write(`cannot make a cluster here: ${problem}\n`);
    return 1;
  }
  await up(args.workers, args.image, args.bucket);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`swarm-cluster failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
