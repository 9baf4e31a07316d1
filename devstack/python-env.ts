/**
 * The Python package's virtual environment (python/: ciba_temporal, its tests, and schemathesis for the HTTP API fuzz
 * test), created on first use like the Temporal CLI (devstack/temporal-cli.ts): `python3 -m venv` into the git-ignored
 * folder `<repo>/.tools/python-env-<short hash of python/pyproject.toml>/`, then
 * `pip install -e 'python[agents,dev]'` from PyPI. A changed pyproject.toml gets a new folder.
 *
 * Safe when several processes ask at once: the one that takes the lock (`<env>.lock`, a folder made atomically, with
 * the owner's pid) builds; the others wait until the environment is marked ready, or take over a lock whose owner has
 * died. A venv cannot be moved once made (its scripts name their folder), hence a lock rather than build-and-rename.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { findRepoRoot, stderrLogger, type Logger } from './temporal-cli';

export interface PythonEnv {
  /** The venv's python. */
  python: string;
  /** The folder of the venv. */
  dir: string;
  /** A console script of the venv (`pytest`, `st`, ...). */
  bin(name: string): string;
}

export interface PythonEnvOptions {
  repoRoot?: string;
  /** The Python that makes the venv. Default: env CIBA_PYTHON, else TEMPORAL_PYTHON, else `python3`. */
  python?: string;
  log?: Logger;
}

const READY_MARKER = '.ciba-python-env-ready';
const LOCK_POLL_MS = 500;

/** `<repo>/.tools/python-env-<12 hex of SHA-256(python/pyproject.toml)>`. */
export function pythonEnvDir(repoRoot: string = findRepoRoot(__dirname)): string {
  const pyproject = fs.readFileSync(path.join(repoRoot, 'python', 'pyproject.toml'));
  const hash = createHash('sha256').update(pyproject).digest('hex').slice(0, 12);
  return path.join(repoRoot, '.tools', `python-env-${hash}`);
}

function envOf(dir: string): PythonEnv {
  const binDir = path.join(dir, process.platform === 'win32' ? 'Scripts' : 'bin');
  return { dir, python: path.join(binDir, 'python'), bin: (name) => path.join(binDir, name) };
}

let pending: Promise<PythonEnv> | undefined;

/** The venv, made once per pyproject.toml (see the file comment). Concurrent calls in one process share one build. */
export function ensurePythonEnv(options: PythonEnvOptions = {}): Promise<PythonEnv> {
  if (options.repoRoot || options.python) return buildOnce(options);
  pending ??= buildOnce(options).catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

async function buildOnce(options: PythonEnvOptions): Promise<PythonEnv> {
  const repoRoot = options.repoRoot ?? findRepoRoot(__dirname);
  const log = options.log ?? stderrLogger;
  const dir = pythonEnvDir(repoRoot);
  const marker = path.join(dir, READY_MARKER);
  const lock = `${dir}.lock`;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  for (;;) {
    if (fs.existsSync(marker)) return envOf(dir);
    if (takeLock(lock)) break;
    if (lockIsStale(lock)) {
      log(`python env: taking over the lock of a process that is gone (${lock})`);
      fs.rmSync(lock, { recursive: true, force: true });
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    if (fs.existsSync(marker)) return envOf(dir); // made while we waited for the lock
    const python = options.python ?? process.env.CIBA_PYTHON ?? process.env.TEMPORAL_PYTHON ?? 'python3';
    const started = Date.now();
    log(`python env: creating ${dir} (python3 -m venv, pip install -e 'python[agents,dev]' from PyPI) ...`);
    fs.rmSync(dir, { recursive: true, force: true }); // what a process that died mid-build left
    await run(python, ['-m', 'venv', dir], repoRoot);
    const env = envOf(dir);
    await run(
      env.python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-input',
        '-e',
        `${path.join(repoRoot, 'python')}[agents,dev]`,
      ],
      repoRoot,
    );
    fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
    log(`python env: ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return env;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Makes the lock folder with our pid in it; false when another process holds it. */
function takeLock(lock: string): boolean {
  try {
    fs.mkdirSync(lock);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  fs.writeFileSync(path.join(lock, 'owner'), JSON.stringify({ pid: process.pid, host: hostname() }));
  return true;
}

/** The lock's owner (on this host) is no longer running. A lock just made, without its owner file yet, is not stale. */
function lockIsStale(lock: string): boolean {
  let owner: { pid?: number; host?: string };
  try {
    owner = JSON.parse(fs.readFileSync(path.join(lock, 'owner'), 'utf8')) as typeof owner;
  } catch {
    return false;
  }
  if (owner.host !== hostname() || typeof owner.pid !== 'number') return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, PIP_NO_INPUT: '1', PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else {
        const tail = output.trim().split('\n').slice(-30).join('\n');
        reject(new Error(`"${command} ${args.join(' ')}" failed with exit code ${code}:\n${tail}`));
      }
    });
  });
}
