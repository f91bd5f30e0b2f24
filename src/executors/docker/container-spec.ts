import type { ContainerCreateOptions } from 'dockerode';
import type { EngineStepSpec } from '../container/step-engine';

/** Everything one step's container is made from; `containerOptions` maps it to the engine's create call. */
export interface StepSpec extends EngineStepSpec {
  /** GPUs to request; -1 for all. */
  readonly gpus?: number;
}

/**
 * The create options for a step: unprivileged (all capabilities dropped, no
 * new privileges), no network unless asked for, and the given limits. Memory
 * swap equals the memory limit, so a step over its limit is killed rather
 * than slowed down by swapping.
 */
export function containerOptions(spec: StepSpec): ContainerCreateOptions {
  if (spec.command.length === 0) throw new TypeError('Expected `command` to be a non-empty array of strings, got []');
  const memory = spec.memoryMb === undefined ? undefined : Math.round(spec.memoryMb * 1024 * 1024);
  return {
    Image: spec.image,
    Cmd: [...spec.command],
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels },
    ...(spec.workingDir === undefined ? {} : { WorkingDir: spec.workingDir }),
    ...(spec.user === undefined ? {} : { User: spec.user }),
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      NetworkMode: spec.network,
      Mounts: spec.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target ?? m.source, ReadOnly: m.readOnly ?? false })),
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ...(spec.cpus === undefined ? {} : { NanoCpus: Math.round(spec.cpus * 1e9) }),
      ...(memory === undefined ? {} : { Memory: memory, MemorySwap: memory }),
      ...(spec.gpus === undefined || spec.gpus === 0 ? {} : { DeviceRequests: [{ Driver: '', Count: spec.gpus, Capabilities: [['gpu']] }] }),
    },
  };
}
