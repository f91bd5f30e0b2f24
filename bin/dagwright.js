#!/usr/bin/env node
'use strict';
// The `dagwright` command: the compiled CLI when the package is built, else the TypeScript source through ts-node.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
let cli;
if (existsSync(compiled)) {
  cli = require(compiled);
} else {
  require('ts-node/register/transpile-only');
  cli = require(join(__dirname, '..', 'src', 'cli', 'main.ts'));
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`error: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
