import { DagwrightError, UsageError } from '../../errors';
import { ContainerExitError } from '../container/errors';

/** How to get a one-node swarm for trying things out; part of several messages. */
export const swarmInitHint =
  'Make this engine a manager with `docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377` ' +
  '(one node, loopback only), or point DOCKER_HOST at a manager of your cluster (ssh://user@host, or tcp://host:2376 ' +
  'with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH).';

/** `--executor swarm` was asked for, but the engine at DOCKER_HOST is not a Swarm manager. */
export class SwarmUnavailableError extends UsageError {
  constructor(
    readonly host: string,
    readonly nodeState: string,
  ) {
    super(
      nodeState === 'active'
        ? `the Docker engine at ${host} is a Swarm worker, not a manager; services can only be created on a manager. ${swarmInitHint}`
        : `the Docker engine at ${host} is not in Swarm mode (state "${nodeState || 'inactive'}"). ${swarmInitHint}`,
    );
  }
}

/** The Swarm executor was given a local `--store`: its nodes share no disk, so outputs must go to object storage. */
export class SwarmLocalStoreError extends UsageError {
  constructor(readonly store: string) {
    super(
      `--store ${store} is a local folder, but the Swarm executor runs steps on other machines that cannot see it; ` +
        'use --store s3://bucket/prefix (with AWS_ENDPOINT_URL for an S3-compatible server).',
    );
  }
}

/**
 * Tasks of the flow declare targets on the local file system, which steps on
 * other nodes cannot write or read; thrown before anything runs. `tasks`
 * maps each offending task id to its local target paths.
 */
export class SwarmLocalTargetsError extends UsageError {
  constructor(readonly tasks: Readonly<Record<string, readonly string[]>>) {
    const ids = Object.keys(tasks);
    const shown = ids.slice(0, 20).map((id) => `  ${id}: ${tasks[id].join(', ')}`);
    super(
      `${ids.length} task(s) write local targets, which Swarm nodes share no disk to hold:\n${shown.join('\n')}` +
        `${ids.length > shown.length ? `\n  ... and ${ids.length - shown.length} more` : ''}\n` +
        'Build their outputs under the flow\'s store (storePath(store, ...) with target()/directoryTarget()) and run with ' +
        '--store s3://bucket/prefix, or use --executor docker on one machine.',
    );
  }
}

/** The Swarm has no such predefined network for services (engine 20.10 has `host` but no `none`); not retried. */
export class SwarmNetworkError extends UsageError {
  constructor(
    readonly taskId: string,
    readonly network: string,
  ) {
    super(
      `${taskId}: this Swarm cannot attach a service to the "${network}" network (it is not one of the swarm's predefined networks on this engine). ` +
        'Leave resources.network unset (Swarm steps use "host", to reach object storage) or run the step with --executor docker.',
    );
  }
}

/** A step's service task exited with a non-zero code; the message ends with the last lines it logged. */
export class ServiceExitError extends ContainerExitError {
  constructor(
    taskId: string,
    exitCode: number,
    logTail: readonly string[],
    readonly serviceId: string,
    readonly node: string | undefined,
  ) {
    super(taskId, exitCode, logTail, `service task exited with code ${exitCode}${node ? ` on node ${node}` : ''}`);
  }
}

/**
 * Swarm could not run a step's container at all (state `rejected` or
 * `failed` without an exit code): an image no node has, a bad mount, a
 * missing network. Not retried when the image is missing.
 */
export class ServiceTaskError extends DagwrightError {
  override readonly retryable: boolean;
  constructor(
    readonly taskId: string,
    readonly serviceId: string,
    readonly state: string,
    readonly reason: string,
    readonly image: string,
  ) {
    const noImage = /no such image|pull access denied|manifest unknown|not found/i.test(reason);
    super(
      `${taskId}: Swarm ${state} the step's task: ${reason || 'no reason given'}` +
        (noImage
          ? `. The image ${image} must be on every node that may run the step: build it there ` +
            `(\`npm run build && containers/build --baked\`) or push it to a registry the nodes can pull from and name it ` +
            'with resources.image or DAGWRIGHT_SWARM_IMAGE.'
          : ''),
    );
    this.retryable = !noImage;
  }
}

/**
 * Before anything ran, nodes of the swarm could not get a step image (no
 * registry access, no such image or digest, a registry that needs a login):
 * thrown by the pull check instead of failing the flow step by step.
 */
export class SwarmImagePullError extends UsageError {
  constructor(
    readonly image: string,
    readonly nodes: readonly { readonly node: string; readonly reason: string }[],
  ) {
    super(
      `${nodes.length} Swarm node(s) cannot get the image ${image}, so no step was started:\n` +
        `${nodes.map((n) => `  ${n.node}: ${n.reason}`).join('\n')}\n` +
        'Push the image to a registry every node can reach and name it there (resources.image or DAGWRIGHT_SWARM_IMAGE, ' +
        'e.g. registry.example:5000/dagwright/runner-baked@sha256:...); for a registry without TLS start each engine with ' +
        '--insecure-registry; for one that needs a login run `docker login` on the manager; or drain the node (`docker node update --availability drain`).',
    );
  }
}

/**
 * The node running a step stopped answering the manager (it is down or
 * unreachable) while the step ran; what the step did there is unknown and
 * its service was removed. Retryable: the next attempt runs on another node.
 */
export class SwarmNodeLostError extends DagwrightError {
  override readonly retryable = true;
  constructor(
    readonly taskId: string,
    readonly node: string,
    readonly nodeState: string,
  ) {
    super(`${taskId}: Swarm node ${node} was lost while the step ran on it (node state "${nodeState}"); the step will be retried on another node.`);
  }
}
