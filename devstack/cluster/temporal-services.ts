/**
 * The Temporal server as four processes, one per service (history, matching, frontend, worker), from the config
 * temporal-config.ts writes. Each is ready when its gRPC health check says SERVING (history: once it owns its
 * shards; the worker service has no health service: its gRPC port accepting connections). Then the namespace and
 * the project's search attributes are registered (devstack/temporal-frontend.ts, the operator API).
 */
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs';
import path from 'node:path';
import { isPortOpen } from '../ports';
import { ensureNamespaceAndSearchAttributes, waitForTemporal } from '../temporal-frontend';
import {
  HOST,
  NAMESPACE,
  TEMPORAL_SERVICES,
  internalFrontendAddress,
  type ClusterLayout,
  type TemporalService,
} from './layout';
import { startNative, type Log, type NativeProcess } from './native-process';
import type { Secrets } from './postgres';
import type { ClusterTls } from './mtls';

/** The SDK's TLS options for a client of the mTLS frontend. */
export function clientTlsOptions(tls: ClusterTls) {
  return {
    serverRootCACertificate: fs.readFileSync(tls.serverCaFile),
    clientCertPair: { crt: fs.readFileSync(tls.clientCertFile), key: fs.readFileSync(tls.clientKeyFile) },
  };
}

/** The gRPC health service name each service reports (go.temporal.io/server service/<name>/handler.go). */
const HEALTH_NAME: Partial<Record<TemporalService, string>> = {
  frontend: 'temporal.api.workflowservice.v1.WorkflowService',
  'internal-frontend': 'temporal.api.workflowservice.v1.WorkflowService',
  history: 'temporal.api.workflowservice.v1.HistoryService',
  matching: 'temporal.api.workflowservice.v1.MatchingService',
};
const SERVING = 1;
const GRPC_NOT_FOUND = 5;
const READY_TIMEOUT_MS = 120_000;

/**
 * Starts the four services side by side (they find each other through the database) and resolves once each is
 * healthy; `onStarted` gets each process as soon as it is ready, so that a failure of another stops it too.
 */
export async function startTemporalServices(
  layout: ClusterLayout,
  secrets: Secrets,
  log: Log,
  onStarted: (service: NativeProcess) => void,
  tls?: ClusterTls,
): Promise<void> {
  const started = Date.now();
  const results = await Promise.allSettled(
    TEMPORAL_SERVICES.map(async (service) => {
      // On a new database the services race to write the cluster's metadata: the losers exit ("duplicate key
      // value violates unique constraint cluster_metadata_info_pkey") and, started again, find it written.
      for (let attempt = 1; ; attempt++) {
        try {
          onStarted(await startTemporalService(layout, secrets, service, tls));
          break;
        } catch (error) {
          if (attempt >= 3 || !/exited .* before it was ready/.test((error as Error).message)) throw error;
          log(`temporal ${service} exited while starting (attempt ${attempt}): starting it again`);
        }
      }
      const { grpc, metrics } = layout.ports.temporal[service];
      log(`temporal ${service} serving on ${HOST}:${grpc} after ${Date.now() - started} ms (metrics :${metrics})`);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  // The cluster's own setup talks to the internal frontend (no token), as the server's worker service does.
  await waitForTemporal(internalFrontendAddress(layout), 'temporal-system', READY_TIMEOUT_MS);
}

/** One Temporal service as its own process (process name `temporal <service>`); resolves once it is healthy. */
export async function startTemporalService(
  layout: ClusterLayout,
  secrets: Secrets,
  service: TemporalService,
  tls?: ClusterTls,
): Promise<NativeProcess> {
  return startNative(
    `temporal ${service}`,
    layout.paths.bin.temporalServer,
    ['--config-file', layout.paths.temporalConfig, 'start', '--service', service],
    {
      env: {
        ...process.env,
        TEMPORAL_METRICS_PORT: String(layout.ports.temporal[service].metrics),
        TEMPORAL_SQL_PASSWORD: secrets.temporalPassword,
      },
      cwd: layout.paths.config,
      logFile: path.join(layout.paths.logs, `temporal-${service}.log`),
      ready: () => isHealthy(layout, service, tls),
      timeoutMs: READY_TIMEOUT_MS,
      detached: true,
    },
  );
}

/**
 * Registers the namespace and the search attributes when missing; returns the names it added. A namespace just
 * registered is known to the other services (and to the frontend's operator API) only once their namespace caches
 * refresh (every 10 s): NOT_FOUND until then is retried.
 */
export async function registerNamespace(layout: ClusterLayout, log: Log): Promise<string[]> {
  const deadline = Date.now() + 90_000;
  const added: string[] = [];
  for (;;) {
    try {
      added.push(
        ...(await ensureNamespaceAndSearchAttributes(internalFrontendAddress(layout), NAMESPACE, {
          log,
          timeoutMs: 60_000,
        })),
      );
      return added;
    } catch (error) {
      if (!(isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND) || Date.now() > deadline) throw error;
      await sleep(1000);
    }
  }
}

/** One health check of `service` (gRPC health SERVING; for the worker service, its port open). */
export async function isHealthy(layout: ClusterLayout, service: TemporalService, tls?: ClusterTls): Promise<boolean> {
  const port = layout.ports.temporal[service].grpc;
  if (!(await isPortOpen(HOST, port, 500))) return false;
  const name = HEALTH_NAME[service];
  if (!name) return true;
  const connection = Connection.lazy({
    address: `${HOST}:${port}`,
    connectTimeout: 2000,
    ...(tls && service === 'frontend' && { tls: clientTlsOptions(tls) }),
  });
  try {
    const answer = await connection.withDeadline(Date.now() + 2000, () =>
      connection.healthService.check({ service: name }),
    );
    return answer.status === SERVING;
  } catch {
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}
