import type { EngineStepSpec } from '../container/step-engine';
import type { SecretMount } from './step-secrets';

/**
 * Everything one step's Swarm service is made from; `serviceOptions` maps it
 * to the engine's create call. Its `cpus` and `memoryMb` are reserved and
 * limited: a node must have this much free to be picked.
 */
export interface ServiceStepSpec extends EngineStepSpec {
  /** Service name: letters, digits and dashes, at most 63 characters. */
  readonly name: string;
  /** Swarm placement constraints, e.g. `node.labels.gpu==true`. */
  readonly placement?: readonly string[];
  /** Time between SIGTERM and SIGKILL when the service is removed; default the engine's (10 s). */
  readonly stopGraceMs?: number;
  /**
   * 'job' (default): a replicated job, one completion. 'replicated': one replica that is never restarted, for
   * engines before 24.0, which never remove a removed job's tasks and containers (moby/moby#44312).
   */
  readonly mode?: 'job' | 'replicated';
  /** Swarm secrets mounted as files under /run/secrets (the S3 credentials: see step-secrets.ts). */
  readonly secrets?: readonly SecretMount[];
}

/** The body of `POST /services/create` (dockerode's `createService` options). */
export interface ServiceCreateBody {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Command: string[];
      Env: string[];
      Labels: Record<string, string>;
      Dir?: string;
      User?: string;
      Mounts: { Type: 'bind'; Source: string; Target: string; ReadOnly: boolean }[];
      CapabilityDrop: string[];
      StopGracePeriod?: number;
      Secrets?: SecretMount[];
    };
    Resources: {
      Limits: { NanoCPUs?: number; MemoryBytes?: number };
      Reservations: { NanoCPUs?: number; MemoryBytes?: number };
    };
    RestartPolicy: { Condition: 'none'; MaxAttempts: 0 };
    Placement: { Constraints: string[] };
    Networks: { Target: string }[];
  };
  Mode: { ReplicatedJob: { MaxConcurrent: 1; TotalCompletions: 1 } } | { Replicated: { Replicas: 1 } };
}

/** Swarm's limit for service names, and what they may contain. */
const nameLimit = 63;
const validName = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/;

/** A service name from a readable part (a task family) and a unique suffix: `dw-<family>-<suffix>`. */
export function serviceName(readable: string, suffix: string): string {
  const tail = `-${suffix}`;
  const slug = readable
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, nameLimit - 3 - tail.length)
    .replace(/-+$/, '');
  return `dw${slug ? `-${slug}` : ''}${tail}`;
}

/**
 * The create body for one step: a replicated job that runs once and is never
 * restarted (the scheduler retries, with a new service), or on old engines one
 * replica with the same restart policy; every capability
 * dropped, resources reserved and limited to the same amounts, attached to a
 * predefined network only.
 */
export function serviceOptions(spec: ServiceStepSpec): ServiceCreateBody {
  if (spec.command.length === 0) throw new TypeError('Expected `command` to be a non-empty array of strings, got []');
  if (!validName.test(spec.name) || spec.name.length > nameLimit) {
    throw new TypeError(`Expected \`name\` to be letters, digits and dashes (at most ${nameLimit}), got ${JSON.stringify(spec.name)}`);
  }
  const nanoCpus = spec.cpus === undefined ? undefined : Math.round(spec.cpus * 1e9);
  const memory = spec.memoryMb === undefined ? undefined : Math.round(spec.memoryMb * 1024 * 1024);
  const amounts = {
    ...(nanoCpus === undefined ? {} : { NanoCPUs: nanoCpus }),
    ...(memory === undefined ? {} : { MemoryBytes: memory }),
  };
  return {
    Name: spec.name,
    Labels: { ...spec.labels },
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Command: [...spec.command],
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Labels: { ...spec.labels },
        ...(spec.workingDir === undefined ? {} : { Dir: spec.workingDir }),
        ...(spec.user === undefined ? {} : { User: spec.user }),
        Mounts: spec.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target ?? m.source, ReadOnly: m.readOnly ?? false })),
        CapabilityDrop: ['ALL'],
        ...(spec.stopGraceMs === undefined ? {} : { StopGracePeriod: Math.round(spec.stopGraceMs * 1e6) }),
        ...(spec.secrets?.length ? { Secrets: [...spec.secrets] } : {}),
      },
      Resources: { Limits: { ...amounts }, Reservations: { ...amounts } },
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: { Constraints: [...(spec.placement ?? [])] },
      Networks: [{ Target: spec.network }],
    },
    Mode: spec.mode === 'replicated' ? { Replicated: { Replicas: 1 } } : { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
  };
}

/** The mode for a manager's engine version: jobs from 24.0 on, where removing a job also removes its tasks. */
export function modeForEngine(serverVersion: string | undefined): 'job' | 'replicated' {
  const major = Number(/^(\d+)\./.exec(serverVersion ?? '')?.[1]);
  return Number.isFinite(major) && major < 24 ? 'replicated' : 'job';
}
