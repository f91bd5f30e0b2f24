// @ts-check
'use strict';
/**
 * A require hook for running flow scripts straight from node, without ts-node
 * and, on a warm cache, without loading the TypeScript compiler at all:
 *
 *   node -r ./src/bootstrap/register flows/train.ts      # cron, systemd, supervisors
 *
 * Signals reach the flow itself (no npx in between), start-up is node's plus
 * reading the cached JavaScript (./transpile-cache.js, shared with
 * `npx ts-node`), and memory is the flow's own. No type-checking, as with
 * ts-node's transpile-only: `npm run typecheck` does that.
 *
 * Stack traces name the TypeScript lines: each compiled file's source map is
 * handed to @cspotcode/source-map-support (ts-node's own), which reads it only
 * when a stack is formatted.
 */
const { transpileCached, formatDiagnostics } = require('./transpile-cache');

/** @type {Map<string, string>} file name -> source map JSON, for stack traces */
const sourceMaps = new Map();

/** Installs source-map-support lazily: the first time a stack is formatted. */
function installStackMapping() {
  /** @type {any} */
  let support;
  try {
    support = require(require.resolve('@cspotcode/source-map-support', { paths: [process.cwd(), __dirname] }));
  } catch {
    return; // Without it stacks name the compiled lines; everything else works.
  }
  support.install({
    environment: 'node',
    handleUncaughtExceptions: false,
    retrieveSourceMap(/** @type {string} */ source) {
      const map = sourceMaps.get(source);
      return map ? { url: source, map } : null;
    },
  });
}

/** @param {NodeJS.Module & { _compile(code: string, filename: string): void }} module @param {string} filename */
function compileTypeScript(module, filename) {
  const source = require('node:fs').readFileSync(filename, 'utf8');
  const compiled = transpileCached(source, filename);
  if (compiled.diagnostics && compiled.diagnostics.length > 0) {
    throw new SyntaxError(`dagwright: cannot compile ${filename}:\n${formatDiagnostics(compiled.diagnostics, filename)}`);
  }
  if (compiled.sourceMapText) sourceMaps.set(filename, compiled.sourceMapText);
  module._compile(compiled.outputText, filename);
}

let stackMappingInstalled = false;
const previousPrepare = Error.prepareStackTrace;
// Installing source-map-support costs a few milliseconds; most runs never format a stack.
Error.prepareStackTrace = function prepareStackTrace(error, frames) {
  if (!stackMappingInstalled) {
    stackMappingInstalled = true;
    Error.prepareStackTrace = previousPrepare;
    installStackMapping();
    if (Error.prepareStackTrace && Error.prepareStackTrace !== prepareStackTrace) return Error.prepareStackTrace(error, frames);
  }
  return previousPrepare ? previousPrepare(error, frames) : `${error}\n${frames.map((f) => `    at ${f}`).join('\n')}`;
};

for (const ext of ['.ts', '.cts']) require.extensions[ext] = /** @type {any} */ (compileTypeScript);
// `.ts` is tried first when a require names no extension (ts-node's preferTsExts): a flow's imports
// are mostly TypeScript, and each miss on `.js`, `.json`, `.node` is a failed stat (about 5% of a no-op's start).
for (const ext of ['.js', '.json', '.node']) {
  const load = require.extensions[ext];
  delete require.extensions[ext];
  require.extensions[ext] = load;
}
