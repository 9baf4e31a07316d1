#!/usr/bin/env node
// The `ciba` command. Installed from the npm package: the compiled CLI in lib/ (the package ships no .ts file). In a
// checkout, the TypeScript sources through tsx (a devDependency), so that a lib/ left by `npm run build` never runs
// older code than the sources the tests exercise.
const path = require('node:path');
const fs = require('node:fs');
const sources = path.join(__dirname, '..', 'client', 'cli.ts');
if (fs.existsSync(sources)) {
  require('tsx/cjs');
  require(sources).run(process.argv.slice(2));
} else {
  require(path.join(__dirname, '..', 'lib', 'client', 'cli.js')).run(process.argv.slice(2));
}
