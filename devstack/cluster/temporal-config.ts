/**
 * The Temporal server's static config (one file for all four services) and dynamic config, and the UI server's
 * config, written at every start into `.data/cluster/config/` from the ports in layout.ts.
 *
 * The static config follows the module's `config/development-postgres12.yaml`, with two changes for one process per
 * service: the Prometheus port comes from each process's environment (TEMPORAL_METRICS_PORT; the file is a template,
 * `# enable-template`), and pprof is off. The database password is not in the file either (TEMPORAL_SQL_PASSWORD).
 * Services find each other through the `cluster_membership` table (ringpop), each at its own membership port.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TEMPORAL_RESOURCE } from '../../provider/temporal-clients';
import type { ClusterTls } from './mtls';
import { HOST, NAMESPACE, TEMPORAL_SERVICES, internalFrontendAddress, type ClusterLayout } from './layout';
import { TEMPORAL_ROLE } from './postgres';

/** History shards: fixed once the cluster has started (Temporal cannot change it later). */
export const NUM_HISTORY_SHARDS = 4;

/**
 * `jwksUrl`: the key set of the tokens' issuer (the local provider). The public frontend maps each call's bearer JWT
 * (audience TEMPORAL_RESOURCE) to roles by its `permissions` claim and refuses what they do not allow; the internal
 * frontend, which the server's worker service uses, checks nothing (the server's own claim mapper: system admin).
 */
export function writeTemporalConfig(
  layout: ClusterLayout,
  serverModuleDir: string,
  jwksUrl: string,
  tls?: ClusterTls,
): void {
  const { ports, paths } = layout;
  fs.mkdirSync(paths.config, { recursive: true });

  const datastore = (db: string, maxConns: number) => `      sql:
        pluginName: "postgres12"
        databaseName: "${db}"
        connectAddr: "${HOST}:${ports.postgres}"
        connectProtocol: "tcp"
        user: "${TEMPORAL_ROLE}"
        password: {{ env "TEMPORAL_SQL_PASSWORD" | quote }}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (name: (typeof TEMPORAL_SERVICES)[number]) => `  ${name}:
    rpc:
      grpcPort: ${ports.temporal[name].grpc}
      membershipPort: ${ports.temporal[name].membership}
      bindOnLocalHost: true${httpPort(name)}`;
  const httpPort = (name: (typeof TEMPORAL_SERVICES)[number]) =>
    name === 'frontend'
      ? `\n      httpPort: ${ports.frontendHttp}`
      : name === 'internal-frontend'
        ? `\n      httpPort: ${ports.internalFrontendHttp}`
        : '';

  const yaml = `# enable-template
# Written by devstack/cluster/temporal-config.ts at every start (from the ports in devstack/cluster/layout.ts);
# based on go.temporal.io/server's config/development-postgres12.yaml. Each service runs as its own process:
#   temporal-server --config-file ${paths.temporalConfig} start --service <name>
# with TEMPORAL_METRICS_PORT and TEMPORAL_SQL_PASSWORD in its environment.
log:
  stdout: true
  level: info

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${NUM_HISTORY_SHARDS}
  datastores:
    postgres-default:
${datastore('temporal', 20)}
    postgres-visibility:
${datastore('temporal_visibility', 2)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "${HOST}"
  pprof:
    port: 0
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "${HOST}:{{ env "TEMPORAL_METRICS_PORT" }}"
${tls ? frontendTls(tls) : ''}  # The default JWT claim mapper and authorizer on the public frontend (docs/cluster-auth.md).
  authorization:
    authorizer: "default"
    claimMapper: "default"
    audience: "${TEMPORAL_RESOURCE}"
    jwtKeyProvider:
      keySourceURIs:
        - "${jwksUrl}"
      refreshInterval: 1m

services:
${TEMPORAL_SERVICES.map(service).join('\n\n')}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "${HOST}:${ports.temporal.frontend.grpc}"

dcRedirectionPolicy:
  policy: "noop"

archival:
  history:
    state: "disabled"
  visibility:
    state: "disabled"

namespaceDefaults:
  archival:
    history:
      state: "disabled"
    visibility:
      state: "disabled"

dynamicConfigClient:
  filepath: "${paths.dynamicConfig}"
  pollInterval: "10s"
`;
  writeIfChanged(paths.temporalConfig, yaml);

  // The module's development-sql.yaml, with its frontend HTTP port ours.
  const dynamic = fs
    .readFileSync(path.join(serverModuleDir, 'config', 'dynamicconfig', 'development-sql.yaml'), 'utf8')
    .replaceAll('localhost:7243', `${HOST}:${ports.frontendHttp}`);
  writeIfChanged(
    paths.dynamicConfig,
    `# Written by devstack/cluster/temporal-config.ts from go.temporal.io/server's ` +
      `config/dynamicconfig/development-sql.yaml.\n${dynamic}`,
  );
}

/**
 * The UI server's config (`<uiConfigDir>/development.yaml`): the frontend, its port, and the codec server, which
 * decrypts payloads for the browser (the browser calls it directly: the codec server allows only the UI's origin).
 */
export function writeUiConfig(layout: ClusterLayout, codecServerUrl: string): void {
  const { ports, paths } = layout;
  fs.mkdirSync(paths.uiConfigDir, { recursive: true });
  const origins = [`http://${HOST}:${ports.ui}`, `http://localhost:${ports.ui}`];
  writeIfChanged(
    path.join(paths.uiConfigDir, 'development.yaml'),
    `# Written by devstack/cluster/temporal-config.ts at every start.
# The internal frontend (no authorizer): the UI has no login here, so it only reads (disableWriteActions).
temporalGrpcAddress: "${internalFrontendAddress(layout)}"
disableWriteActions: true
host: "${HOST}"
port: ${ports.ui}
enableUi: true
defaultNamespace: "${NAMESPACE}"
refreshInterval: 0s
showTemporalSystemNamespace: false
disableNewsFetch: true
notifyOnNewVersion: false
cors:
  cookieInsecure: true
  unsafeAllowAllOrigins: false
  allowOrigins:
${origins.map((o) => `    - "${o}"`).join('\n')}
codec:
  endpoint: "${codecServerUrl}"
  passAccessToken: false
  includeCredentials: false
forwardHeaders: []
`,
  );
}

/** `--mtls`: TLS with client-certificate verification on the public frontend only (mtls.ts). */
function frontendTls(tls: ClusterTls): string {
  return `  tls:
    frontend:
      server:
        certFile: "${tls.serverCertFile}"
        keyFile: "${tls.serverKeyFile}"
        requireClientAuth: true
        clientCaFiles:
          - "${tls.clientCaFile}"
      client:
        serverName: "localhost"
        rootCaFiles:
          - "${tls.serverCaFile}"
`;
}

function writeIfChanged(file: string, text: string): void {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  fs.writeFileSync(file, text, { mode: 0o600 });
}
