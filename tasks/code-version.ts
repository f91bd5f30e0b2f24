/**
 * The version of the code that made an output, for lineage: the package
 * version and, when the project is a git checkout, the commit. Reads .git
 * directly (no git process), so it also works in containers without git.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface CodeVersion {
  readonly package: string;
  readonly version: string;
  /** The checked-out commit, or null outside a git checkout. Local changes are not detected. */
  readonly gitCommit: string | null;
}

const projectRoot = resolve(__dirname, '..');

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function gitCommit(root: string): string | null {
  const fromEnv = process.env.DAGWRIGHT_GIT_COMMIT;
  if (fromEnv && /^[0-9a-f]{40}$/.test(fromEnv)) return fromEnv;
  const gitDir = join(root, '.git');
  const head = readText(join(gitDir, 'HEAD'))?.trim();
  if (!head) return null;
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  if (!ref) return null;
  const loose = readText(join(gitDir, ref))?.trim();
  if (loose && /^[0-9a-f]{40}$/.test(loose)) return loose;
  const packed = readText(join(gitDir, 'packed-refs'));
  const line = packed?.split('\n').find((l) => l.endsWith(` ${ref}`));
  return line ? line.slice(0, 40) : null;
}

let cached: CodeVersion | undefined;

/** The project's package name and version, and the git commit when there is one. */
export function codeVersion(): CodeVersion {
  if (cached) return cached;
  const pkg = JSON.parse(readText(join(projectRoot, 'package.json')) ?? '{}') as { name?: string; version?: string };
  cached = { package: pkg.name ?? 'unknown', version: pkg.version ?? 'unknown', gitCommit: gitCommit(projectRoot) };
  return cached;
}
