// @ts-check
'use strict';
/**
 * ts-node's `transpiler` for this project (tsconfig.json: "ts-node":
 * { "transpileOnly": true, "transpiler": "./src/bootstrap/ts-node-transpiler.js" }):
 * `npx ts-node flows/x.ts` gets each file's JavaScript from the content-hashed
 * cache (./transpile-cache.js) and compiles only what changed. A project using
 * dagwright as a package names `dagwright/src/bootstrap/ts-node-transpiler.js`.
 */
const { transpileCached } = require('./transpile-cache');

/**
 * @param {{ service: { config: { options: { configFilePath?: unknown } } } }} options
 *   what ts-node passes (see ts-node's TranspilerFactory)
 */
function create(options) {
  const configFilePath = options.service.config.options.configFilePath;
  const tsconfigPath = typeof configFilePath === 'string' ? configFilePath : undefined;
  return {
    /** @param {string} input @param {{ fileName: string }} opts */
    transpile(input, { fileName }) {
      return transpileCached(input, fileName, tsconfigPath);
    },
  };
}

module.exports = { create };
