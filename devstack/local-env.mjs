// Preloaded by the npm scripts that read .env (`node --import tsx --import ./devstack/local-env.mjs ...`): reads .env
// when it is there (variables already set win), and says nothing when it is not. A clone that configures nothing
// (no .env, no CIBA_* variable) gets the local stack's settings first, as with `npm start`, so that the parts also
// start alone. Plain JavaScript that acts on the main thread only: the worker's workflow thread inherits these flags
// without tsx's loader (and the environment from the main thread).
import { existsSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const { ENV_FILE, prepareLocalConfig } = await import('./local-config.ts');
  if (!existsSync(ENV_FILE) && !Object.keys(process.env).some((name) => name.startsWith('CIBA_'))) prepareLocalConfig();
  if (existsSync(ENV_FILE)) process.loadEnvFile(ENV_FILE);
}
