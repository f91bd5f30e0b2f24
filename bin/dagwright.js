#!/usr/bin/env node
'use strict';
// The `dagwright` command. In a checkout it runs the TypeScript source (a dist/ left
// from an earlier build could be stale); an installed package has only the compiled CLI.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const source = join(__dirname, '..', 'app', 'cli', 'main.ts');
let cli;
if (existsSync(source)) {
  // The compiled-JavaScript cache ts-node uses too: no TypeScript compiler loaded on a warm start.
  require(join(__dirname, '..', 'src', 'bootstrap', 'register.js'));
  cli = require(source);
} else {
  cli = require(join(__dirname, '..', 'dist', 'app', 'cli', 'main.js'));
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
