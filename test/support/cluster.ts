/**
 * A production-shaped cluster (`npm run cluster`, devstack/cluster/) for a test file: its own port offset and data
 * root (`.data/cluster-test-<name>`), sharing the binaries built in `.data/cluster/build`, so that a cluster someone
 * runs on the default offset (10000) is never touched. Two ways to run it:
 *
 * - `startTestCluster`: in this process (devstack/cluster/cluster.ts `startCluster`), with `faults` to kill and
 *   restart its parts; or, when `reuse` allows and a cluster already answers on its ports, that one, left running.
 * - `startClusterProcess`: `npm run cluster` itself (devstack/cluster/main.ts) as a child process, stopped with
 *   SIGINT as a terminal's Ctrl-C would: for the test of that path.
 *
 * The first start on a machine without Go's caches builds the Temporal server from source (8-15 min on 2 cores):
 * CI runs `npm run cluster:build` before the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { clusterEnv, providerIssuer } from '../../devstack/cluster/apps';
import { startCluster, type RunningCluster } from '../../devstack/cluster/cluster';
import { DEFAULT_CLUSTER_BUILD, HOST, clusterLayout, type ClusterLayout } from '../../devstack/cluster/layout';
import { clusterTlsFiles } from '../../devstack/cluster/mtls';
import { loadSecrets } from '../../devstack/cluster/postgres';
import { ENV_FILE, LOCAL_API_KEYS_FILE, prepareLocalConfig } from '../../devstack/local-config';
import { isPortOpen } from '../../devstack/ports';
import { REPO_ROOT } from '../../devstack/ts-process';

/** Whether the cluster suites run (CIBA_TEST_CLUSTER=1): they need Go's build, PostgreSQL's binaries, 2 GB. */
export const clusterTestsEnabled = process.env.CIBA_TEST_CLUSTER === '1';

/** A cold start builds from source: the hang detector of a cluster start. */
export const CLUSTER_START_TIMEOUT_MS = 25 * 60_000;

/** The test clusters' port offset: CIBA_TEST_CLUSTER_OFFSET, else 20000 (the default cluster is at 10000). */
export function testClusterOffset(): number {
  const value = process.env.CIBA_TEST_CLUSTER_OFFSET;
  if (!value) return 20_000;
  const offset = Number(value);
  if (!Number.isInteger(offset) || offset < 0 || offset > 25_000) {
    throw new Error(
      `CIBA_TEST_CLUSTER_OFFSET must be an integer from 0 to 25000 (membership ports are a PostgreSQL smallint), got "${value}"`,
    );
  }
  return offset;
}

/** The layout of the test cluster `name`: its own offset and data root, the default cluster's build. */
export function testClusterLayout(name: string, offset = testClusterOffset()): ClusterLayout {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`test cluster name must be [a-z0-9-]+, got "${name}"`);
  return clusterLayout(offset, path.join(REPO_ROOT, '.data', `cluster-test-${name}`), DEFAULT_CLUSTER_BUILD);
}

export interface TestClusterOptions {
  /** Names the data root `.data/cluster-test-<name>`. */
  name: string;
  /** Default: testClusterOffset(). */
  offset?: number;
  /** TLS with client certificates on the public frontend. */
  mtls?: boolean;
  /** More environment for the provider (e.g. IDP_TEST_USERS) and for the workers and APIs. */
  providerEnv?: Record<string, string>;
  appEnv?: Record<string, string>;
  /** Use a cluster already answering on this layout's ports, and leave it running (default true). */
  reuse?: boolean;
}

export interface TestCluster {
  layout: ClusterLayout;
  issuer: string;
  apiUrls: string[];
  /** `id:secret` the API instances accept (curl -u). */
  apiKey: string;
  /** What a client of this cluster needs: .env, then the cluster's settings (Temporal address, token, TLS). */
  clientEnv: Record<string, string>;
  /** The cluster this test started (with `faults`); undefined when it uses one already running. */
  running?: RunningCluster;
  stop(): Promise<void>;
}

/** Starts a cluster in this process (or finds one running, when `reuse`); `stop()` stops only what it started. */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const layout = testClusterLayout(options.name, options.offset);
  const dotenv = loadDotEnv();
  const tls = options.mtls ? clusterTlsFiles(layout) : undefined;
  const issuer = providerIssuer(layout);
  if (await isRunning(layout)) {
    if (options.reuse === false) {
      throw new Error(
        `a cluster already answers on API port ${layout.ports.api[0]} (offset ${layout.ports.postgres - 5432}); ` +
          `this test needs its own: stop that one, or set CIBA_TEST_CLUSTER_OFFSET`,
      );
    }
    return {
      layout,
      issuer,
      apiUrls: layout.ports.api.map((port) => `http://${HOST}:${port}`),
      apiKey: apiKey(dotenv),
      clientEnv: { ...dotenv, ...clusterEnv(layout, issuer, loadSecrets(layout), tls) },
      stop: async () => undefined,
    };
  }
  const log = (message: string) => {
    if (process.env.CIBA_CLUSTER_ECHO === 'true') process.stderr.write(`[cluster ${options.name}] ${message}\n`);
  };
  const running = await startCluster(log, layout, {
    mtls: options.mtls,
    providerEnv: options.providerEnv,
    appEnv: options.appEnv,
  });
  return {
    layout,
    issuer: running.issuer,
    apiUrls: running.apiUrls,
    apiKey: apiKey(dotenv),
    clientEnv: { ...dotenv, ...running.env },
    running,
    stop: () => running.stop(),
  };
}

/** `npm run cluster` (devstack/cluster/main.ts) as a child process on the test cluster `name`'s layout. */
export interface ClusterProcess {
  layout: ClusterLayout;
  /** Undefined when a cluster was already running there (then left running). */
  child?: ChildProcess;
  /** Its stdout and stderr so far. */
  output(): string;
  /** SIGINT (Ctrl-C); resolves with its exit code. Undefined when it did not start one. */
  stop(): Promise<number | null | undefined>;
}

export async function startClusterProcess(options: { name: string; offset?: number }): Promise<ClusterProcess> {
  const layout = testClusterLayout(options.name, options.offset);
  if (await isRunning(layout)) return { layout, output: () => '', stop: async () => undefined };
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'devstack/cluster/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      CIBA_CLUSTER_PORT_OFFSET: String(layout.ports.postgres - 5432),
      CIBA_CLUSTER_DATA_DIR: layout.paths.root,
      CIBA_CLUSTER_BUILD_DIR: layout.paths.build,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const tail = () => output.split('\n').slice(-40).join('\n');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGINT'); // it stops what it started
      reject(new Error(`cluster not up after ${CLUSTER_START_TIMEOUT_MS} ms:\n${tail()}`));
    }, CLUSTER_START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('The cluster is up')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm run cluster exited (${code}) before it was up:\n${tail()}`));
    });
  });
  return {
    layout,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGINT');
      return exited;
    },
  };
}

/** .env (made from .env.example when missing) as the cluster's processes see it, without touching process.env's. */
function loadDotEnv(): Record<string, string> {
  prepareLocalConfig();
  const dotenv = parseEnv(readFileSync(ENV_FILE, 'utf8')) as Record<string, string>;
  // As process.loadEnvFile does (npm run cluster): variables already set win. Jest gives each test file its own
  // process.env, so this stays within the file.
  for (const [name, value] of Object.entries(dotenv)) process.env[name] ??= value;
  return dotenv;
}

/** The API key the cluster's instances accept: .env's own keys if it names any, else the local dev key. */
export function clusterApiKey(): string {
  return apiKey(loadDotEnv());
}

function apiKey(dotenv: Record<string, string>): string {
  const keys = process.env.CIBA_API_KEYS ?? dotenv.CIBA_API_KEYS;
  const file = path.resolve(
    REPO_ROOT,
    process.env.CIBA_API_KEYS_FILE ?? dotenv.CIBA_API_KEYS_FILE ?? LOCAL_API_KEYS_FILE,
  );
  const entries = (keys ?? (existsSync(file) ? readFileSync(file, 'utf8') : '')).split(/[\s,]+/).filter(Boolean);
  const key = entries.find((entry) => !/^[^:]+:sha256:/.test(entry));
  if (!key) throw new Error('no API key with a plain secret in .env or the keys file');
  return key;
}

async function isRunning(layout: ClusterLayout): Promise<boolean> {
  return isPortOpen(HOST, layout.ports.api[1]!, 500);
}
