/**
 * The real local stack for the benchmark, from devstack/: one Temporal dev server (free port, its metrics endpoint
 * on), and per run a fresh local provider and a worker, each in its own child process. Every process started is
 * stopped on exit, on an error, and on Ctrl-C.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getFreePort } from '../../devstack/ports';
import { startTemporalDevServer } from '../../devstack/temporal-server';
import { REPO_ROOT, startTsProcess, type ManagedProcess } from '../../devstack/ts-process';
import type { ClusterFaults } from '../../devstack/cluster/faults';
import type { RequestLogEntry } from '../../provider/request-log';
import { log, sleep, type ServerParts } from './measure';

export const LOG_DIR = path.join(REPO_ROOT, '.data', 'bench-logs');
export const CLIENT_ID = 'ciba-agent';
export const CLIENT_SECRET = 'ciba-agent-secret';
/**
 * Per HTTP request to the provider, worker and baseline alike: the worker's default (CIBA_HTTP_TIMEOUT_MS), so that the
 * benchmark shows what a worker with default settings does under load.
 */
export const HTTP_TIMEOUT_MS = 10_000;
/** Processes take long to start on a busy machine (a worker bundles the workflow code first). */
const START_TIMEOUT_MS = 5 * 60_000;

/** Undo steps, run newest first; also on SIGINT/SIGTERM. */
const cleanups: Array<{ name: string; run: () => Promise<unknown> }> = [];
const children = new Set<ManagedProcess['child']>();

export function onCleanup(name: string, run: () => Promise<unknown>): () => Promise<void> {
  const entry = { name, run };
  cleanups.push(entry);
  return async () => {
    const at = cleanups.indexOf(entry);
    if (at < 0) return;
    cleanups.splice(at, 1);
    await run().catch((e: unknown) => log(`while stopping ${name}: ${(e as Error).message}`));
  };
}

export async function cleanUpAll(): Promise<void> {
  while (cleanups.length) {
    const { name, run } = cleanups.pop()!;
    await run().catch((e: unknown) => log(`while stopping ${name}: ${(e as Error).message}`));
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave at once (the exit hook still kills children)
    interrupted = true;
    log(`${signal}: stopping every process the benchmark started`);
    void cleanUpAll().finally(() => process.exit(130));
  });
}
// Last resort (an uncaught error): no child outlives this process.
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

export interface BenchServer {
  /** What the report calls it ('dev server', 'cluster'). */
  name: string;
  address: string;
  pid?: number;
  /** A server of several processes (the cluster): its parts, whose sum is the role `server`. */
  parts?: ServerParts;
  /** Prometheus endpoints of the server (its `action` counter, summed over them), when this process started it. */
  metricsUrl?: string | string[];
  /** Added to the environment of workers and clients (the cluster: its token settings). */
  clientEnv?: Record<string, string>;
  /** The cluster's parts, to kill and restart (--faults). */
  faults?: ClusterFaults;
  stop(): Promise<void>;
}

export async function startServer(inMemory: boolean): Promise<BenchServer> {
  const dbDir = mkdtempSync(path.join(os.tmpdir(), 'ciba-fleet-temporal-'));
  onCleanup('temporal data', async () => rmSync(dbDir, { recursive: true, force: true }));
  const metricsPort = await getFreePort();
  const temporal = await startTemporalDevServer({
    port: 0,
    headless: true,
    dbFile: inMemory ? false : path.join(dbDir, 'dev.sqlite'),
    logFile: path.join(LOG_DIR, `temporal-${Date.now()}.log`),
    extraArgs: ['--metrics-port', String(metricsPort)],
    log: (m) => log(m),
  });
  const stop = onCleanup('temporal server', () => temporal.stop());
  if (temporal.source !== 'cli') log(`temporal server from ${temporal.source}: no pid, no CPU or action figures`);
  return {
    name: 'dev server',
    address: temporal.address,
    pid: temporal.pid,
    metricsUrl: temporal.source === 'cli' ? `http://127.0.0.1:${metricsPort}/metrics` : undefined,
    stop,
  };
}

export interface Child {
  pid: number;
  stop(): Promise<void>;
  /** SIGKILL, as a crash; resolves once it has exited. */
  crash(): Promise<void>;
}

async function startChild(
  name: string,
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  cleanup?: () => Promise<void>,
  nodeArgs: string[] = [],
): Promise<Child & { readyLine: string }> {
  const started = await startTsProcess(name, entry, env, ready, {
    logDir: LOG_DIR,
    timeoutMs: START_TIMEOUT_MS,
    nodeArgs,
  });
  children.add(started.child);
  const stop = onCleanup(name, async () => {
    const hard = setTimeout(() => started.child.kill('SIGKILL'), 30_000); // a worker drains activities for up to 20 s
    await started.kill('SIGTERM');
    clearTimeout(hard);
    children.delete(started.child);
    await cleanup?.();
  });
  const crash = () => started.kill('SIGKILL');
  return { pid: started.child.pid!, readyLine: started.readyLine, stop, crash };
}

export interface BenchProvider extends Child {
  issuer: string;
}

/** The users the bench's provider knows (IDP_TEST_USERS): one per approval, up to the largest N a run may use. */
export const BENCH_USERS = 10_000;

/** The user the bench's approval number `index` (from 0) asks: each approval asks a user of its own. */
export function benchUser(index: number): string {
  return `user${(index % BENCH_USERS) + 1}@example.com`;
}

/** A fresh local provider (own data folder, so no run inherits another's state), with BENCH_USERS test users. */
export async function startProvider(
  intervalSeconds: number,
  extraEnv: Record<string, string> = {},
): Promise<BenchProvider> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ciba-fleet-idp-'));
  const child = await startChild(
    'provider',
    'provider/main.ts',
    {
      IDP_PORT: '0',
      IDP_POLL_INTERVAL: String(intervalSeconds),
      IDP_DATA_DIR: dataDir,
      IDP_TEST_USERS: String(BENCH_USERS),
      ...extraEnv,
    },
    /"event":"ready"/,
    async () => rmSync(dataDir, { recursive: true, force: true }),
  );
  const { issuer } = JSON.parse(child.readyLine.slice(child.readyLine.indexOf('{'))) as { issuer: string };
  return { ...child, issuer };
}

/** The environment of the worker and of this process's client (as test/support/stack.ts stackEnv). */
export function stackEnv(
  server: BenchServer,
  issuer: string,
  taskQueue: string,
  payloadKey: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    CIBA_TASK_QUEUE: taskQueue,
    CIBA_ISSUER: issuer,
    CIBA_CLIENT_ID: CLIENT_ID,
    CIBA_CLIENT_SECRET: CLIENT_SECRET,
    CIBA_PAYLOAD_KEY: payloadKey,
    CIBA_PAYLOAD_KEY_FILE: '', // blank = unset: a key file in the caller's environment must not win
    CIBA_PROVIDER_PROFILE: 'auth0',
    // The default, said out loud; the baseline uses the same.
    CIBA_HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS),
    CIBA_METRICS_ADDRESS: '', // no Prometheus endpoint: the bench reads the server's own metrics
    // Each approval of the bench asks a user of its own (benchUser): the per-user ask gate's default limits hold, and
    // every approval pays for a gate of its own, as a fleet of real users would.
    ...server.clientEnv,
    ...extra,
  };
}

/** The approval worker (worker/main.ts), or another entry that prints the same ready line (the floor's worker). */
export async function startWorker(env: Record<string, string>, entry = 'worker/main.ts'): Promise<Child> {
  // CIBA_BENCH_PROFILE_DIR: CPU profiles of the worker (main and workflow threads), for `node --cpu-prof`'s viewers.
  const profileDir = process.env.CIBA_BENCH_PROFILE_DIR;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return startChild('worker', entry, env, /ciba worker: task queue/, undefined, nodeArgs);
}

/** A pending request as the device API lists it. */
export interface PendingRequest {
  auth_req_id: string;
  binding_message: string;
}

/** The user's device and the provider's request log, over HTTP (provider/device.ts, provider/dev-routes.ts). */
export class ProviderApi {
  constructor(readonly issuer: string) {}

  async pending(): Promise<PendingRequest[]> {
    return (await this.getJson('/device/requests')) as PendingRequest[];
  }

  /** Approves; retried while the provider is too busy to answer (a request that was decided answers 409). */
  async approve(authReqId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${this.issuer}/device/requests/${encodeURIComponent(authReqId)}/approve`, {
          method: 'POST',
          signal: AbortSignal.timeout(120_000),
        });
        if (response.ok || (attempt > 1 && response.status === 409)) return;
        throw new Error(`approve ${authReqId}: HTTP ${response.status} ${await response.text()}`);
      } catch (error) {
        if (attempt >= 5 || (error as Error).message.startsWith('approve')) throw error;
        await sleep(1000 * attempt);
      }
    }
  }

  async requestLog(): Promise<RequestLogEntry[]> {
    return (await this.getJson('/dev/log')) as RequestLogEntry[];
  }

  private async getJson(route: string): Promise<unknown> {
    const response = await fetch(`${this.issuer}${route}`, { signal: AbortSignal.timeout(120_000) });
    if (!response.ok) throw new Error(`GET ${route}: HTTP ${response.status}`);
    return response.json();
  }
}
