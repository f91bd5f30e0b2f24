import { chmod, chown, mkdir, rename, rm } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { temporarySibling } from '../../targets/local-file-system';
import { throwIfAttemptAborted } from '../../cancellation';
import type { TaskMount } from '../../task';
import type { LocalOutput } from './local-targets';

/**
 * A container step's local outputs, redirected to staging folders while the
 * attempt runs and published only when it succeeded. Each output `P` gets a
 * staging folder beside it (a temporary sibling, so the final rename stays on
 * one file system) and is written at `<staging>/<name of P>`; the command's
 * arguments and environment name that path instead of `P`. Nothing the
 * command does, however it writes, is visible at `P` before `publish()`.
 */
export interface StagedOutputs {
  /** `value` with every output path replaced by its staged path. */
  rewrite(value: string): string;
  /** The staging folders, writable, at their own paths. */
  readonly mounts: readonly TaskMount[];
  /** Moves what the step wrote into place (replacing an old output) and removes the staging folders. */
  publish(): Promise<void>;
  /** Removes the staging folders and whatever is in them. */
  discard(): Promise<void>;
}

interface Staged {
  readonly final: string;
  readonly folder: string;
  readonly staged: string;
}

/** Numeric "uid:gid" as numbers, when it is one. */
function ids(user: string | undefined): { uid: number; gid: number } | undefined {
  const m = /^(\d+):(\d+)$/.exec(user ?? '');
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : undefined;
}

/** Lets the step's user write the staging folder: chown when we may (root), else open it up (it is removed afterwards). */
async function handOver(folder: string, user: string | undefined): Promise<void> {
  const owner = ids(user);
  if (owner === undefined || (owner.uid === process.getuid?.() && owner.gid === process.getgid?.())) return;
  try {
    await chown(folder, owner.uid, owner.gid);
  } catch {
    await chmod(folder, 0o777);
  }
}

async function moveIntoPlace(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'ENOTDIR') throw err;
    // An old output of another kind or a non-empty folder: move it aside, then replace it.
    const old = temporarySibling(to);
    await rename(to, old);
    await rename(from, to);
    await rm(old, { recursive: true, force: true });
  }
}

/** `path` where it stands as a whole path: at the start or after `=`, `:`, `,`, a quote or a space, and followed by the end, `/` or one of those. */
function pathPattern(path: string): RegExp {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[=:,'"\\s])${escaped}(?=$|[/=:,'"\\s])`, 'g');
}

/** Makes a staging folder for each output, owned by (or writable for) `user`, the step's numeric uid:gid. */
export async function stageOutputs(outputs: readonly LocalOutput[], user: string | undefined): Promise<StagedOutputs> {
  const staged: Staged[] = [];
  try {
    for (const output of outputs) {
      const folder = temporarySibling(output.path);
      await mkdir(dirname(output.path), { recursive: true });
      await mkdir(folder);
      staged.push({ final: output.path, folder, staged: join(folder, basename(output.path)) });
      await handOver(folder, user);
    }
  } catch (err) {
    await Promise.all(staged.map((s) => rm(s.folder, { recursive: true, force: true })));
    throw err;
  }
  // Longest first, so /s/a/b is replaced before /s/a; a path only where a path ends or goes on (/s/a, /s/a/x, not /s/ab).
  const order = [...staged].sort((a, b) => b.final.length - a.final.length);
  const discard = async () => {
    await Promise.all(staged.map((s) => rm(s.folder, { recursive: true, force: true })));
  };
  return {
    mounts: staged.map((s) => ({ source: s.folder })),
    rewrite: (value) => {
      let out = value;
      for (const s of order) out = out.replace(pathPattern(s.final), (_m, before: string) => `${before}${s.staged}`);
      return out;
    },
    publish: async () => {
      for (const s of staged) {
        if (statSync(s.staged, { throwIfNoEntry: false }) === undefined) continue;
        throwIfAttemptAborted(); // the run's locks must still be held (see TaskLockingExecutor)
        await moveIntoPlace(s.staged, s.final);
      }
      await discard();
    },
    discard,
  };
}
