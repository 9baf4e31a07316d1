/**
 * `npm run cluster`: every port and every path of the local production-shaped cluster, in one place.
 *
 * Each port is the one the single-process stack (`npm start`) or Temporal's own sample config uses, plus
 * CIBA_CLUSTER_PORT_OFFSET (default 10000): the cluster and `npm start` run side by side. Everything the cluster
 * keeps (PostgreSQL's data, the provider's state, configs, logs, the Go build) lives under `.data/cluster/`
 * (CIBA_CLUSTER_DATA_DIR moves it; CIBA_CLUSTER_BUILD_DIR moves the Go build alone, so that another cluster, e.g. a
 * test's, shares the binaries of `.data/cluster/build`).
 */
import path from 'node:path';
import { REPO_ROOT } from '../ts-process';

/**
 * The Temporal server's services, one process each. `internal-frontend` serves the server's own worker service (and
 * the cluster's setup and the UI server) without the authorizer: only the public `frontend` checks tokens
 * (docs/cluster-auth.md).
 */
export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'internal-frontend', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** How many of each application process run. */
export const APPROVAL_WORKERS = 3;
export const API_INSTANCES = 2;

/** Versions built from the Go module proxy (devstack/cluster/go-build.ts). */
export const VERSIONS = {
  /** Go toolchain; go.temporal.io/server v1.32.2 needs >= 1.26.10 (fetched through the proxy by GOTOOLCHAIN). */
  go: 'go1.26.10',
  temporalServer: 'v1.32.2',
  uiServer: 'v2.58.1',
  /**
   * Dependencies raised above what the UI server's go.mod asks: the module proxy answers 403 ("not available") for
   * go.temporal.io/api v1.64.0, which ui-server v2.58.1 requires; v1.64.1 is the next patch release.
   */
  uiServerDependencies: ['go.temporal.io/api@v1.64.1'],
} as const;

export const HOST = '127.0.0.1';
export const NAMESPACE = 'default';

export interface ClusterPorts {
  postgres: number;
  /** gRPC, membership (ringpop) and Prometheus port of each Temporal service; the frontend also serves HTTP. */
  temporal: Record<TemporalService, { grpc: number; membership: number; metrics: number }>;
  frontendHttp: number;
  internalFrontendHttp: number;
  ui: number;
  codecServer: number;
  provider: number;
  /** One per API instance. */
  api: number[];
  /** Prometheus endpoint of each approval worker. */
  workerMetrics: number[];
  /** Ping-mode notification endpoint of each approval worker (unused in poll mode, kept apart anyway). */
  workerNotification: number[];
}

export interface ClusterPaths {
  root: string;
  /** Scratch Go modules and the binaries built there. */
  build: string;
  bin: { temporalServer: string; sqlTool: string; uiServer: string };
  /** PostgreSQL's data directory (owned by the user PostgreSQL runs as). */
  pgData: string;
  pgLog: string;
  /** Generated passwords (PostgreSQL superuser and the `temporal` role), mode 0600. */
  secrets: string;
  /** The Temporal server's config and dynamic config, and the UI server's config dir. */
  config: string;
  temporalConfig: string;
  dynamicConfig: string;
  uiConfigDir: string;
  /** The local provider's state (users' pending requests, keys). */
  idp: string;
  /** The HTTP API instances' shared id key (CIBA_API_ID_KEY_FILE). */
  apiIdKey: string;
  /** The secret of the provider's `temporal-worker` client (CIBA_TEMPORAL_CLIENT_SECRET_FILE of workers and APIs). */
  temporalWorkerSecret: string;
  logs: string;
}

export interface ClusterLayout {
  ports: ClusterPorts;
  paths: ClusterPaths;
}

/** Where `npm run cluster` keeps everything by default. */
export const DEFAULT_CLUSTER_ROOT = path.join(REPO_ROOT, '.data', 'cluster');
/** Where the Go build (scratch modules and binaries) lives by default: any cluster may share it. */
export const DEFAULT_CLUSTER_BUILD = path.join(DEFAULT_CLUSTER_ROOT, 'build');

/**
 * The cluster's ports and paths. `offset` defaults to CIBA_CLUSTER_PORT_OFFSET, else 10000; `root` to
 * CIBA_CLUSTER_DATA_DIR, else `.data/cluster`; `build` (the Go build, binaries included) to CIBA_CLUSTER_BUILD_DIR,
 * else `<root>/build`.
 */
export function clusterLayout(
  offset = portOffset(process.env.CIBA_CLUSTER_PORT_OFFSET),
  root = dirFromEnv(process.env.CIBA_CLUSTER_DATA_DIR) ?? DEFAULT_CLUSTER_ROOT,
  build = dirFromEnv(process.env.CIBA_CLUSTER_BUILD_DIR) ?? path.join(root, 'build'),
): ClusterLayout {
  const p = (port: number) => port + offset;
  const bin = path.join(build, 'bin');
  const config = path.join(root, 'config');
  return {
    ports: {
      postgres: p(5432),
      // Temporal's development-postgres12.yaml: gRPC 7233-7235/7239, membership 6933-6935/6939; metrics 8000+.
      temporal: {
        frontend: { grpc: p(7233), membership: p(6933), metrics: p(8000) },
        history: { grpc: p(7234), membership: p(6934), metrics: p(8001) },
        matching: { grpc: p(7235), membership: p(6935), metrics: p(8002) },
        worker: { grpc: p(7239), membership: p(6939), metrics: p(8003) },
        'internal-frontend': { grpc: p(7236), membership: p(6936), metrics: p(8004) },
      },
      frontendHttp: p(7243),
      internalFrontendHttp: p(7246),
      // npm start: UI 8233, codec server 8234, API 8235, provider 3000, worker metrics 9464, notifications 8443.
      ui: p(8233),
      codecServer: p(8234),
      provider: p(3000),
      api: Array.from({ length: API_INSTANCES }, (_, i) => p(8235) + i),
      workerMetrics: Array.from({ length: APPROVAL_WORKERS }, (_, i) => p(9464) + i),
      workerNotification: Array.from({ length: APPROVAL_WORKERS }, (_, i) => p(8443) + i),
    },
    paths: {
      root,
      build,
      bin: {
        temporalServer: path.join(bin, 'temporal-server'),
        sqlTool: path.join(bin, 'temporal-sql-tool'),
        uiServer: path.join(bin, 'temporal-ui-server'),
      },
      pgData: path.join(root, 'pg'),
      pgLog: path.join(root, 'logs', 'postgres.log'),
      secrets: path.join(root, 'secrets.json'),
      config,
      temporalConfig: path.join(config, 'temporal.yaml'),
      dynamicConfig: path.join(config, 'dynamicconfig.yaml'),
      uiConfigDir: path.join(config, 'ui'),
      idp: path.join(root, 'idp'),
      apiIdKey: path.join(root, 'api-id-key'),
      temporalWorkerSecret: path.join(root, 'temporal-worker-secret'),
      logs: path.join(root, 'logs'),
    },
  };
}

/** `host:port` of the Temporal frontend. */
export function frontendAddress(layout: ClusterLayout): string {
  return `${HOST}:${layout.ports.temporal.frontend.grpc}`;
}

/** `host:port` of the internal frontend: no authorizer, for the server's own parts only. */
export function internalFrontendAddress(layout: ClusterLayout): string {
  return `${HOST}:${layout.ports.temporal['internal-frontend'].grpc}`;
}

function dirFromEnv(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : path.resolve(REPO_ROOT, value);
}

function portOffset(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 10_000;
  const n = Number(value);
  // Temporal keeps membership ports (6933-6939 + offset) in a PostgreSQL smallint: at most 32767.
  if (!Number.isInteger(n) || n < 0 || n > 25_000) {
    throw new Error(`CIBA_CLUSTER_PORT_OFFSET must be an integer from 0 to 25000, got "${value}"`);
  }
  return n;
}
