/**
 * The local production-shaped cluster, in order: binaries (go-build.ts), PostgreSQL (postgres.ts), Temporal's schemas
 * (schema.ts), the Temporal services as four processes (temporal-services.ts), the namespace and search attributes,
 * the codec server and the UI server, then the provider, the approval workers and the HTTP API instances (apps.ts).
 * `stop()` stops the workers and API instances side by side, then the rest in the reverse order, PostgreSQL last
 * (`pg_ctl stop -m fast`). Nothing is set up twice: a second start finds the binaries, the data directory, the schemas
 * and the namespace, and goes on. `faults` (faults.ts) kills and restarts parts of a running cluster.
 */
import fs from 'node:fs';
import { isPortOpen } from '../ports';
import {
  allStarted,
  apiKeyForSamples,
  clusterEnv,
  providerIssuer,
  startApi,
  startApis,
  startClusterCodecServer,
  startProvider,
  startWorker,
  startWorkers,
} from './apps';
import { clusterFaults, type ClusterFaults, type ProcessSlot } from './faults';
import type { Stoppable } from './apps';
import { ROUTES } from '../../provider/provider';
import { ensureBinaries, moduleDir } from './go-build';
import { ensureClusterTls } from './mtls';
import {
  HOST,
  TEMPORAL_SERVICES,
  clusterLayout,
  frontendAddress,
  type ClusterLayout,
  type TemporalService,
} from './layout';
import type { Log, NativeProcess } from './native-process';
import type { ManagedProcess } from '../ts-process';
import { loadSecrets, startPostgres } from './postgres';
import { ensureSchemas } from './schema';
import { writeTemporalConfig, writeUiConfig } from './temporal-config';
import { registerNamespace, startTemporalService, startTemporalServices } from './temporal-services';
import { startUiServer } from './ui-server';

/** How long a worker or API instance may take to stop after SIGTERM (a worker's shutdownGraceTime is 20 s). */
const APP_STOP_GRACE_MS = 30_000;

export interface RunningCluster {
  layout: ClusterLayout;
  temporalAddress: string;
  uiUrl: string;
  codecServerUrl: string;
  issuer: string;
  apiUrls: string[];
  apiKey: string;
  /** The settings a client of this cluster needs (over .env). */
  env: Record<string, string>;
  /** Milliseconds per phase of this start. */
  timings: Record<string, number>;
  /** Kill and restart its parts (faults.ts). */
  faults: ClusterFaults;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** TLS with client certificates on the public frontend (mtls.ts). */
  mtls?: boolean;
  /** More environment for the local provider (e.g. IDP_TEST_USERS). */
  providerEnv?: Record<string, string>;
  /** More environment for the approval workers and API instances, over the cluster's own. */
  appEnv?: Record<string, string>;
}

/** Starts the whole cluster; on failure, stops what it started and throws. Expects .env loaded (main.ts). */
export async function startCluster(
  log: Log,
  layout = clusterLayout(),
  options: ClusterOptions = {},
): Promise<RunningCluster> {
  const timings: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (name: string) => {
    timings[name] = Date.now() - phaseStart;
    phaseStart = Date.now();
  };
  fs.mkdirSync(layout.paths.logs, { recursive: true });

  // Stopped in reverse: apps, UI, codec server; then the Temporal services in a fixed order; PostgreSQL last.
  const parts: Stoppable[] = [];
  const appParts: Stoppable[] = [];
  const services = new Map<TemporalService, NativeProcess>();
  let stopPostgres: ((mode?: 'fast' | 'immediate') => Promise<void>) | undefined;
  const stop = async () => {
    const stopPart = (part: Stoppable) =>
      part.stop().catch((e: unknown) => log(`stopping ${part.name}: ${(e as Error).message}`));
    // The workers and API instances side by side (each may take its grace period), then the rest in reverse.
    await Promise.all(appParts.splice(0).map(stopPart));
    for (const part of parts.splice(0).reverse()) await stopPart(part);
    for (const name of [...TEMPORAL_SERVICES].reverse()) await services.get(name)?.stop(15_000);
    services.clear();
    if (stopPostgres) await stopPostgres().catch((e: unknown) => log(`stopping PostgreSQL: ${(e as Error).message}`));
    stopPostgres = undefined;
  };
  // Workers and API instances: slots, so that a fault's restart replaces the process that stop() stops. SIGTERM,
  // then SIGKILL after APP_STOP_GRACE_MS (an API instance waits for its open long polls to end).
  const slotPart = (slot: ProcessSlot): Stoppable => ({
    name: slot.name,
    stop: async () => {
      const running = slot.current;
      slot.current = undefined;
      if (!running) return;
      const timer = setTimeout(() => void running.kill('SIGKILL'), APP_STOP_GRACE_MS);
      try {
        await running.kill('SIGTERM');
      } finally {
        clearTimeout(timer);
      }
    },
  });

  try {
    await refuseIfRunning(layout);
    await ensureBinaries(layout, log);
    phase('build');

    const secrets = loadSecrets(layout);
    const postgres = await startPostgres(layout, secrets, log);
    stopPostgres = postgres.stop;
    phase('postgres');

    const serverModule = moduleDir(layout, 'go.temporal.io/server');
    const schemas = ensureSchemas(layout, postgres, secrets, serverModule, log);
    log(
      `schemas: ${Object.entries(schemas)
        .map(([db, what]) => `${db} ${what}`)
        .join(', ')}`,
    );
    phase('schema');

    // The provider first: the frontend reads its key set (the tokens' issuer) when it starts.
    const issuer = providerIssuer(layout);
    const onStarted = (part: Stoppable) => parts.push(part);
    await startProvider(layout, secrets, onStarted, options.providerEnv);
    phase('provider');

    const tls = options.mtls ? await ensureClusterTls(layout) : undefined;
    if (tls) log(`mTLS on the frontend: server CA ${tls.serverCaFile}, client certificate ${tls.clientCertFile}`);
    writeTemporalConfig(layout, serverModule, `${issuer}${ROUTES.jwks}`, tls);
    await startTemporalServices(
      layout,
      secrets,
      log,
      (s) => services.set(s.name.replace(/^temporal /, '') as TemporalService, s),
      tls,
    );
    const added = await registerNamespace(layout, log);
    if (added.length === 0) log('namespace and search attributes: registered already');
    phase('temporal');

    const codecServer = await startClusterCodecServer(layout);
    parts.push({ name: 'codec server', stop: codecServer.stop });
    writeUiConfig(layout, codecServer.url);
    const ui = await startUiServer(layout);
    parts.push({ name: 'ui-server', stop: () => ui.process.stop() });
    phase('ui');

    // Side by side: the workers (bundling their workflow code takes the longest), the APIs and the provider.
    const env = clusterEnv(layout, issuer, secrets, tls);
    const appEnv = { ...env, ...options.appEnv };
    const workerSlots: ProcessSlot[] = layout.ports.workerMetrics.map((_, i) => ({
      name: `worker-${i + 1}`,
      start: () => startWorker(layout, appEnv, i),
    }));
    const apiSlots: ProcessSlot[] = layout.ports.api.map((_, i) => ({
      name: `api-${i + 1}`,
      start: async () => (await startApi(layout, appEnv, i)).process,
    }));
    const inSlot = (slots: ProcessSlot[]) => (_: Stoppable, process: ManagedProcess, i: number) => {
      slots[i]!.current = process;
      appParts.push(slotPart(slots[i]!));
    };
    const apis = startApis(layout, appEnv, inSlot(apiSlots));
    await allStarted<unknown>([apis, startWorkers(layout, appEnv, inSlot(workerSlots))]);
    const apiUrls = await apis;
    phase('apps');

    const faults = clusterFaults({
      log,
      workers: workerSlots,
      apis: apiSlots,
      services,
      startService: (service) => startTemporalService(layout, secrets, service, tls),
      stopPostgres: async (mode) => {
        if (!stopPostgres) throw new Error('PostgreSQL is not running');
        await stopPostgres(mode);
      },
      startPostgres: async () => {
        stopPostgres = (await startPostgres(layout, secrets, log)).stop;
      },
    });

    return {
      layout,
      temporalAddress: frontendAddress(layout),
      uiUrl: ui.url,
      codecServerUrl: codecServer.url,
      issuer,
      apiUrls,
      apiKey: apiKeyForSamples(),
      env,
      timings,
      faults,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A cluster (or anything) already on the frontend's or PostgreSQL's port: say so rather than fail halfway. */
async function refuseIfRunning(layout: ClusterLayout): Promise<void> {
  const taken = [];
  for (const [what, port] of [
    ['Temporal frontend', layout.ports.temporal.frontend.grpc],
    ['Temporal history', layout.ports.temporal.history.grpc],
    ['UI server', layout.ports.ui],
    ['HTTP API', layout.ports.api[0]!],
  ] as const) {
    if (await isPortOpen(HOST, port, 300)) taken.push(`${what} port ${port}`);
  }
  if (taken.length > 0) {
    throw new Error(
      `${taken.join(', ')} already in use: is a cluster already running (npm run cluster)? Stop it first, or ` +
        `move this one (CIBA_CLUSTER_PORT_OFFSET).`,
    );
  }
}
