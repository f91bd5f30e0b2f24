import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { TaskMount } from '../../task';

/** The nearest folder at or above `from` holding a package.json; `from` itself when there is none. */
export function findProjectRoot(from: string): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(from);
    dir = parent;
  }
}

export function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/** node_modules folders above the project that Node's resolution would also search (hoisted installs). */
export function outerNodeModules(root: string): string[] {
  const found: string[] = [];
  let dir = dirname(root);
  for (;;) {
    const candidate = join(dir, 'node_modules');
    if (existsSync(candidate)) found.push(candidate);
    const parent = dirname(dir);
    if (parent === dir) return found;
    dir = parent;
  }
}

/**
 * The real folder of the project's node_modules when it is a symbolic link
 * to somewhere outside the project (a git worktree sharing one install, a
 * linked cache): mounted at its own path, the link resolves in a container too.
 */
export function linkedNodeModules(root: string): string[] {
  const link = join(root, 'node_modules');
  try {
    if (!lstatSync(link).isSymbolicLink()) return [];
    const real = realpathSync(link);
    return isInside(real, root) ? [] : [real];
  } catch {
    return [];
  }
}

/** Drops mounts whose source lies inside another mount at the same path, keeping the first of equals. */
export function dedupeMounts(mounts: readonly TaskMount[]): TaskMount[] {
  const out: TaskMount[] = [];
  for (const m of mounts) {
    const target = m.target ?? m.source;
    const covered = out.some((o) => {
      const oTarget = o.target ?? o.source;
      return oTarget === o.source && target === m.source && isInside(m.source, o.source) && (!o.readOnly || m.readOnly);
    });
    if (!covered) out.push(m);
  }
  return out;
}
