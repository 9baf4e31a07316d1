#!/usr/bin/env node
// The `ciba` command: the compiled CLI when built (npm run build), otherwise the TypeScript sources through tsx.
const path = require('node:path');
const fs = require('node:fs');
const compiled = path.join(__dirname, '..', 'dist', 'client', 'cli.js');
if (fs.existsSync(compiled)) {
  require(compiled).run(process.argv.slice(2));
} else {
  require('tsx/cjs');
  require('../client/cli.ts').run(process.argv.slice(2));
}
