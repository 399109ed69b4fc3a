#!/usr/bin/env node
// Launcher of the `specexit` command: runs the CLI bundle that `npm run build:bundles` writes to dist/.
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'dist', 'daemon', 'cli.js');
if (!existsSync(bundle)) {
  process.stderr.write(`error: ${bundle} is missing; run \`npm run build:bundles\` in ${path.dirname(__dirname)}\n`);
  process.exit(1);
}
require(bundle).runCli();
