import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../errors';

/**
 * A step's container runs the project's TypeScript with `node -r
 * src/bootstrap/register.js`, reading each file's JavaScript from the same
 * content-hashed cache `npx ts-node` and `node -r` use on the host
 * (src/bootstrap/transpile-cache.js). The host fills it for every project
 * file before steps start, so no container loads the TypeScript compiler or
 * writes to the (read-only) project.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cache = require('../../bootstrap/transpile-cache.js') as {
  transpileCached(source: string, fileName: string): { diagnostics?: readonly unknown[] };
  cacheDirFor(fileName: string): string;
  formatDiagnostics(diagnostics: readonly unknown[], fileName: string): string;
};

/** The require hook a step's node loads; a `.js` file in src/ and in dist/src/ alike (tsc copies it). */
const registerHook = join(__dirname, '..', '..', 'bootstrap', 'register.js');

/** Folders never searched for sources. */
const skipped = new Set(['node_modules', 'dist', 'coverage']);

async function listTypeScript(dir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  await Promise.all(
    entries.map(async (e) => {
      if (e.name.startsWith('.') || skipped.has(e.name)) return;
      const path = join(dir, e.name);
      if (e.isDirectory()) await listTypeScript(path, out);
      else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path);
    }),
  );
}

export interface CompiledProject {
  /** The `-r` module for `node`. */
  readonly hook: string;
  /** Where the compiled JavaScript is kept (one folder per tsconfig.json): steps need them mounted. */
  readonly cacheDirs: readonly string[];
  readonly files: number;
}

/**
 * Looks every `.ts` file of the project up in the JavaScript cache, compiling
 * the misses (no type-checking: the host's ts-node and tsc do that). A file
 * with a syntax error fails here, before any container starts.
 */
export async function compileProject(root: string): Promise<CompiledProject> {
  const sources: string[] = [];
  await listTypeScript(root, sources);
  const cacheDirs = new Set<string>();
  for (const file of sources) {
    cacheDirs.add(cache.cacheDirFor(file));
    const compiled = cache.transpileCached(await readFile(file, 'utf8'), file);
    if (compiled.diagnostics && compiled.diagnostics.length > 0) {
      throw new UsageError(`cannot compile ${file} for the Docker steps:\n${cache.formatDiagnostics(compiled.diagnostics, file)}`);
    }
  }
  return { hook: registerHook, cacheDirs: [...cacheDirs], files: sources.length };
}

