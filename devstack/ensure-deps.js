#!/usr/bin/env node
// Runs before `npm start`, `npm test` and `npm run setup` (plain Node, no dependencies, any Node version): installs
// the npm packages from the lock file on a fresh clone, or again when package-lock.json changed since the last install.
// Everything else (Temporal CLI, Node 24, the Python venv, chromium) comes from `npm run setup` (devstack/setup.ts), or
// from the same helpers on first use.
'use strict';
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');

const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : undefined);
const installedAt = mtime(installed);
if (installedAt === undefined || installedAt < mtime(lock)) {
  console.error('installing npm packages (npm ci)...');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
