// @ts-check
'use strict';
/**
 * The project's TypeScript compiled to CommonJS once per content: a file's
 * JavaScript is kept under `node_modules/.cache/dagwright/js/` (or
 * `$DAGWRIGHT_TS_CACHE_DIR`; delete it any time) named by a hash
 * of its source, its path, the tsconfig.json text and the TypeScript version.
 * A hit costs a hash and a file read; only a miss loads the TypeScript
 * compiler (the largest start-up cost of a flow: about 0.3 s and 50 MB).
 *
 * Plain JavaScript because it runs before anything can compile TypeScript:
 * ts-node loads it as its `transpiler` (./ts-node-transpiler.js) and
 * `node -r` loads it as a require hook (./register.js). Both consumers share
 * the cache, so a file compiled by one is a hit for the other.
 *
 * No type-checking: `npm run typecheck`, CI's `tsc` and the editor report
 * type errors; syntax errors are reported here and never cached.
 */
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { dirname, join } = require('node:path');

/** Bump when the compiled form or the options below change: old entries are then never read. */
const cacheFormat = 'dagwright-js-1';

/**
 * @typedef {{ outputText: string, sourceMapText?: string, diagnostics?: readonly import('typescript').Diagnostic[] }} Compiled
 * @typedef {{ tsconfigPath: string | undefined, projectDir: string, keyPrefix: string, cacheDir: string,
 *   ts?: typeof import('typescript'), compilerOptions?: import('typescript').CompilerOptions, cacheDirMade?: boolean }} Project
 */

/** @type {Map<string, Project>} */
const projects = new Map();

/**
 * The TypeScript package's version as installed for `dir`, without loading the compiler.
 * @param {string} dir
 */
function typescriptVersion(dir) {
  try {
    const manifest = require.resolve('typescript/package.json', { paths: [dir, __dirname] });
    return String(JSON.parse(readFileSync(manifest, 'utf8')).version);
  } catch {
    return 'none';
  }
}

/**
 * The cache for one tsconfig.json (or none: a file outside any project).
 * @param {string | undefined} tsconfigPath
 * @returns {Project}
 */
function project(tsconfigPath) {
  const id = tsconfigPath ?? '';
  let p = projects.get(id);
  if (p) return p;
  const projectDir = tsconfigPath ? dirname(tsconfigPath) : process.cwd();
  const tsconfigText = tsconfigPath ? readFileSync(tsconfigPath, 'utf8') : '';
  const keyPrefix = [cacheFormat, typescriptVersion(projectDir), id, tsconfigText].join('\0');
  const nodeModules = join(projectDir, 'node_modules');
  const cacheDir = process.env.DAGWRIGHT_TS_CACHE_DIR
    ? process.env.DAGWRIGHT_TS_CACHE_DIR
    : existsSync(nodeModules)
    ? join(nodeModules, '.cache', 'dagwright', 'js')
    : join(tmpdir(), `dagwright-js-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
  p = { tsconfigPath, projectDir, keyPrefix, cacheDir };
  projects.set(id, p);
  return p;
}

/** @type {Map<string, string | undefined>} */
const tsconfigByDir = new Map();

/**
 * The nearest tsconfig.json at or above `dir` (what ts-node would use for a script there).
 * @param {string} dir
 * @returns {string | undefined}
 */
function findTsconfig(dir) {
  if (tsconfigByDir.has(dir)) return tsconfigByDir.get(dir);
  const here = join(dir, 'tsconfig.json');
  const parent = dirname(dir);
  const found = existsSync(here) ? here : parent === dir ? undefined : findTsconfig(parent);
  tsconfigByDir.set(dir, found);
  return found;
}

/**
 * Loads the TypeScript compiler and the project's options, once: CommonJS
 * output with a source map, whatever module kind the tsconfig names (the
 * project is CommonJS; `module: node20` needs package.json lookups a
 * single-file transpile cannot make).
 * @param {Project} p
 */
function compilerFor(p) {
  if (p.ts && p.compilerOptions) return { ts: p.ts, compilerOptions: p.compilerOptions };
  /** @type {typeof import('typescript')} */
  let ts;
  try {
    ts = require(require.resolve('typescript', { paths: [p.projectDir, __dirname] }));
  } catch (err) {
    throw new Error(
      `dagwright: compiling TypeScript needs the typescript package, which is not installed for ${p.projectDir}: ` +
        'npm install --save-dev typescript, or run the compiled JavaScript (npm run build).',
      { cause: err },
    );
  }
  /** @type {import('typescript').CompilerOptions} */
  let options = { target: ts.ScriptTarget.ES2022, esModuleInterop: true };
  if (p.tsconfigPath) {
    const { config, error } = ts.readConfigFile(p.tsconfigPath, (f) => ts.sys.readFile(f));
    if (error) throw new Error(`dagwright: ${p.tsconfigPath}: ${ts.flattenDiagnosticMessageText(error.messageText, '\n')}`);
    options = ts.parseJsonConfigFileContent(config ?? {}, { ...ts.sys, readDirectory: () => [] }, p.projectDir, undefined, p.tsconfigPath).options;
  }
  const compilerOptions = {
    ...options,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    noEmit: false,
    declaration: false,
    declarationMap: false,
    sourceMap: true,
    inlineSourceMap: false,
    inlineSources: false,
    composite: false,
    incremental: false,
    outDir: undefined,
  };
  p.ts = ts;
  p.compilerOptions = compilerOptions;
  return { ts, compilerOptions };
}

/**
 * Writes an entry atomically (a temporary sibling renamed into place), so
 * concurrent processes never read half an entry. A cache that cannot be
 * written (a read-only checkout) only costs the next start a compile.
 * @param {Project} p
 * @param {string} file
 * @param {Compiled} compiled
 */
function store(p, file, compiled) {
  try {
    if (!p.cacheDirMade) mkdirSync(p.cacheDir, { recursive: true });
    p.cacheDirMade = true;
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, JSON.stringify({ outputText: compiled.outputText, sourceMapText: compiled.sourceMapText }));
    renameSync(tmp, file);
  } catch {
    // Not cached: correct, only slower next time.
  }
}

/**
 * The CommonJS JavaScript for a TypeScript source, from the cache or compiled
 * now. `diagnostics` is non-empty only for a source with syntax errors (never cached).
 * @param {string} source
 * @param {string} fileName absolute path of the source
 * @param {string | undefined} [tsconfigPath] default: the nearest tsconfig.json above the file
 * @returns {Compiled}
 */
function transpileCached(source, fileName, tsconfigPath = findTsconfig(dirname(fileName))) {
  const p = project(tsconfigPath);
  const key = createHash('sha256').update(p.keyPrefix).update('\0').update(fileName).update('\0').update(source).digest('hex');
  const file = join(p.cacheDir, `${key.slice(0, 40)}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // A miss (or an unreadable entry): compile.
  }
  const { ts, compilerOptions } = compilerFor(p);
  const out = ts.transpileModule(source, { fileName, compilerOptions, reportDiagnostics: true });
  const compiled = { outputText: out.outputText, sourceMapText: out.sourceMapText, diagnostics: out.diagnostics ?? [] };
  if (compiled.diagnostics.length === 0) store(p, file, compiled);
  return compiled;
}

/**
 * The diagnostics as one readable message (file:line:column message), for a thrown error.
 * @param {readonly import('typescript').Diagnostic[]} diagnostics
 * @param {string} fileName
 */
function formatDiagnostics(diagnostics, fileName) {
  return diagnostics
    .map((d) => {
      const text = typeof d.messageText === 'string' ? d.messageText : d.messageText.messageText;
      if (!d.file || d.start === undefined) return `${fileName}: error TS${d.code}: ${text}`;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${fileName}:${line + 1}:${character + 1}: error TS${d.code}: ${text}`;
    })
    .join('\n');
}

/**
 * Where the JavaScript of `fileName` is cached (the Docker executor mounts it into steps).
 * @param {string} fileName absolute path of a source
 */
function cacheDirFor(fileName) {
  return project(findTsconfig(dirname(fileName))).cacheDir;
}

module.exports = { transpileCached, formatDiagnostics, findTsconfig, cacheDirFor };
