import { mkdir, readdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as TS from 'typescript';
import { UsageError } from '../../errors';

/**
 * Loaded with `node -r` in a step's container: makes `require()` of a `.ts`
 * file run the JavaScript compiled for it on the host, found under `files/`
 * at the source's absolute path. The file keeps its own path, so `__dirname`
 * and stack traces name the source.
 */
const hookSource = `'use strict';
const fs = require('fs');
const path = require('path');
const files = path.join(__dirname, 'files');
require.extensions['.ts'] = function (module, filename) {
  let code;
  try {
    code = fs.readFileSync(path.join(files, filename + '.js'), 'utf8');
  } catch (err) {
    throw new Error('dagwright: ' + filename + ' has no compiled copy in ' + files +
      ' (the Docker executor compiles the project\\'s .ts files on the host before steps start; files outside the project are not compiled)');
  }
  module._compile(code, filename);
};
`;

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

async function mtime(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

export interface CompiledProject {
  /** The `-r` module for `node`. */
  readonly hook: string;
  readonly compiled: number;
  readonly upToDate: number;
}

/**
 * Compiles every `.ts` file of the project to CommonJS into `cacheDir`, once
 * per change (by modification time), without type-checking: the host already
 * type-checks (ts-node, tsc), so containers only need JavaScript to start
 * fast. Writes are atomic, so concurrent flows can share the cache.
 */
export async function compileProject(root: string, cacheDir: string): Promise<CompiledProject> {
  const sources: string[] = [];
  await listTypeScript(root, sources);
  const files = join(cacheDir, 'files');
  // A compiled copy carries its source's modification time, as seen before the source was read:
  // a source saved while it was being compiled differs from that time, so it is compiled again.
  const stale: { src: string; srcTime: number }[] = [];
  await Promise.all(
    sources.map(async (src) => {
      const [srcTime, outTime] = await Promise.all([mtime(src), mtime(join(files, `${src}.js`))]);
      if (srcTime !== undefined && (outTime === undefined || Math.round(outTime) !== Math.round(srcTime))) stale.push({ src, srcTime });
    }),
  );
  const hook = join(cacheDir, 'hook.js');
  if ((await readFile(hook, 'utf8').catch(() => '')) !== hookSource) await writeAtomic(hook, hookSource);
  if (stale.length === 0) return { hook, compiled: 0, upToDate: sources.length };

  let ts: typeof TS;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ts = require(require.resolve('typescript', { paths: [root, __dirname] })) as typeof TS;
  } catch (err) {
    throw new UsageError(
      `the Docker executor compiles the project's TypeScript for its containers with the typescript package, which is not installed in ${root}: ` +
        'npm install --save-dev typescript, or run the flow from compiled JavaScript (npm run build).',
      { cause: err },
    );
  }
  const compilerOptions = readCompilerOptions(ts, root);
  await Promise.all(
    stale.map(async ({ src, srcTime }) => {
      const out = ts.transpileModule(await readFile(src, 'utf8'), { compilerOptions, fileName: src });
      await writeAtomic(join(files, `${src}.js`), out.outputText, srcTime);
    }),
  );
  return { hook, compiled: stale.length, upToDate: sources.length - stale.length };
}

function readCompilerOptions(ts: typeof TS, root: string): TS.CompilerOptions {
  const configPath = ts.findConfigFile(root, (p) => ts.sys.fileExists(p));
  let options: TS.CompilerOptions = {};
  if (configPath) {
    const { config } = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
    options = ts.parseJsonConfigFileContent(config ?? {}, ts.sys, dirname(configPath)).options;
  }
  return {
    ...options,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    noEmit: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    inlineSourceMap: false,
    composite: false,
    incremental: false,
  };
}

async function writeAtomic(path: string, text: string, mtimeMs?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, text);
  if (mtimeMs !== undefined) await utimes(tmp, mtimeMs / 1000, mtimeMs / 1000);
  await rename(tmp, path);
}
