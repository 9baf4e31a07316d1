#!/usr/bin/env node
// The `ciba-worker` command: the standalone approval worker (worker/main.ts), settings from the environment
// (CIBA_*, TEMPORAL_*). Installed from the npm package: the compiled worker in lib/. In a checkout, the TypeScript
// sources through tsx (a devDependency), as for bin/ciba.js.
const path = require('node:path');
const fs = require('node:fs');
const sources = path.join(__dirname, '..', 'worker', 'main.ts');
if (fs.existsSync(sources)) {
  require('tsx/cjs');
  require(sources);
} else {
  require(path.join(__dirname, '..', 'lib', 'worker', 'main.js'));
}
