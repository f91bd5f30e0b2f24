import type { TaskContext } from '../../task';
import { leaseEnvironment } from '../../step/lease';
import { stepIdentity } from '../../step/invocation';

/** Host environment passed to every step by default: S3 settings and credentials, dagwright's own settings, locale (values of secret-named ones never reach a log). */
export const defaultPassEnv: readonly string[] = ['AWS_*', 'DAGWRIGHT_S3_*', 'TZ', 'LANG'];

/** The invoking user's numeric "uid:gid" (steps run as it, so outputs belong to them); undefined where there is none. */
export function uidGid(): string | undefined {
  return typeof process.getuid === 'function' && typeof process.getgid === 'function' ? `${process.getuid()}:${process.getgid()}` : undefined;
}

/** The host variables `patterns` names; `NAME_*` names a prefix. */
export function passedEnv(patterns: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (patterns.some((p) => (p.endsWith('*') ? key.startsWith(p.slice(0, -1)) : key === p))) out[key] = value;
  }
  return out;
}

/**
 * A step's environment: the host variables `passEnv` names, then the task's
 * own, then the ids of the step protocol that `--run-task` reads inside,
 * and the attempt's locks, which the step checks before each publish.
 */
export function stepEnvironment(passEnv: readonly string[], taskEnv: Readonly<Record<string, string>>, ctx: TaskContext): Record<string, string> {
  return { ...passedEnv(passEnv, process.env), ...taskEnv, ...stepIdentity(ctx.runId, ctx.taskId, ctx.attempt), ...leaseEnvironment() };
}
