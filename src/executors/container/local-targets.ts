import { DirectoryTarget } from '../../targets/directory-target';
import { FileTarget } from '../../targets/file-target';
import { LocalFileSystem } from '../../targets/local-file-system';
import type { AnyTask } from '../../task';

/** A target on this machine's disk: what a container sees only through a bind mount. */
export type LocalOutput = FileTarget | DirectoryTarget;

/**
 * The one rule for "is this a local target": a file or directory target whose
 * file system is a `LocalFileSystem`. The Docker executor stages and mounts
 * these; the Swarm executor refuses them (its nodes share no disk).
 */
export function isLocalTarget(target: unknown): target is LocalOutput {
  return (target instanceof FileTarget || target instanceof DirectoryTarget) && target.fs instanceof LocalFileSystem;
}

/** The task's outputs on the local file system. */
export function localOutputsOf(task: AnyTask): LocalOutput[] {
  return task.outputList().filter(isLocalTarget);
}

/** The task's local targets, by URI. */
export function localTargetsOf(task: AnyTask): string[] {
  return localOutputsOf(task).map((t) => t.uri);
}

/** Every task that declares local targets, with those targets; empty when none does. */
export function tasksWithLocalTargets(tasks: Iterable<AnyTask>): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const task of tasks) {
    const local = localTargetsOf(task);
    if (local.length > 0) found[task.id] = local;
  }
  return found;
}
