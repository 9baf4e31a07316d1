/**
 * `npm run cluster`: the local production-shaped cluster (docs/cluster.md). Builds what it needs on first start
 * (~10 min), prints its URLs and a sample request, and runs until Ctrl-C, which stops every part in order,
 * PostgreSQL last. Its data stays in .data/cluster: a restart loses nothing.
 *
 * `--build-only` (`npm run cluster:build`): builds (or checks) the binaries and fetches the Temporal server's source
 * (schemas, sample configs), then exits without starting anything: CI's step before the cluster tests.
 */
import path from 'node:path';
import { ENV_FILE, prepareLocalConfig } from '../local-config';
import { findTemporalCli } from '../temporal-cli';
import { REPO_ROOT } from '../ts-process';
import { startCluster, type RunningCluster } from './cluster';
import { ensureBinaries, moduleDir } from './go-build';
import { HOST, clusterLayout, type ClusterLayout } from './layout';

const log = (message: string) => process.stderr.write(`[cluster] ${message}\n`);

async function main(): Promise<void> {
  if (process.argv.includes('--build-only')) return buildOnly();
  prepareLocalConfig();
  process.loadEnvFile(ENV_FILE);

  let cluster: RunningCluster | undefined;
  let stopRequested = false;
  const stopAll = async () => {
    if (stopRequested) return;
    stopRequested = true;
    // While starting: startCluster finishes the part it is on (or fails); the code below then stops everything.
    if (!cluster) return log('stopping once the part being started is up...');
    log('stopping the cluster (apps, UI, Temporal services, then PostgreSQL)...');
    const started = Date.now();
    await cluster.stop();
    log(`stopped in ${Date.now() - started} ms`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());

  const started = Date.now();
  try {
    cluster = await startCluster(log, undefined, { mtls: process.argv.includes('--mtls') });
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(stopRequested ? 0 : 1);
  }
  if (stopRequested) {
    await cluster.stop();
    process.exit(0);
  }
  const cli = await findTemporalCli({ repoRoot: REPO_ROOT, log }).catch(() => undefined);
  printUp(cluster, Date.now() - started, cli);
}

/** Builds what is missing or stale, and fetches the server module's source; starts nothing. */
async function buildOnly(): Promise<void> {
  const layout = clusterLayout();
  const started = Date.now();
  try {
    const built = await ensureBinaries(layout, log);
    const source = moduleDir(layout, 'go.temporal.io/server');
    log(
      `${built === 0 ? 'binaries current' : 'binaries built'} in ${layout.paths.build} ` +
        `(${((Date.now() - started) / 1000).toFixed(1)} s); server source ${source}`,
    );
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}

function printUp(cluster: RunningCluster, ms: number, cli: string | undefined): void {
  const { layout, env } = cluster;
  const { ports, paths } = layout;
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  const temporalCli = cli ? rel(cli) : 'temporal';
  const tlsEnv = Object.entries(env)
    .filter(([name]) => name.startsWith('TEMPORAL_TLS'))
    .map(([name, value]) => `${name}=${name.endsWith('_PATH') ? rel(value) : value}`)
    .join(' ');
  const clientEnv =
    `TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS} TEMPORAL_UI_URL=${env.TEMPORAL_UI_URL} \\\n    ${tlsEnv} \\\n` +
    `    CIBA_TEMPORAL_TOKEN_URL=${env.CIBA_TEMPORAL_TOKEN_URL} CIBA_TEMPORAL_CLIENT_ID=${env.CIBA_TEMPORAL_CLIENT_ID} \\\n` +
    `    CIBA_TEMPORAL_CLIENT_SECRET_FILE=${rel(env.CIBA_TEMPORAL_CLIENT_SECRET_FILE ?? '')}`;
  const reader = `$(jq -r '.temporalClients["temporal-reader"]' ${rel(paths.secrets)})`;
  const readerToken =
    `TOKEN=$(curl -s -u "temporal-reader:${reader}" -d grant_type=client_credentials ` +
    `${env.CIBA_TEMPORAL_TOKEN_URL} | jq -r .access_token)`;
  const timings = Object.entries(cluster.timings)
    .map(([name, t]) => `${name} ${(t / 1000).toFixed(1)} s`)
    .join(', ');
  const [api1, api2] = cluster.apiUrls;
  console.log(`
The cluster is up (${(ms / 1000).toFixed(1)} s: ${timings}).
  PostgreSQL        ${HOST}:${ports.postgres}   (databases temporal, temporal_visibility; data ${rel(paths.pgData)})
  Temporal          ${cluster.temporalAddress}   (frontend; history :${ports.temporal.history.grpc}, matching :${ports.temporal.matching.grpc}, worker :${ports.temporal.worker.grpc}; one process each)
  Temporal Web UI   ${cluster.uiUrl}   (payloads decrypted by ${cluster.codecServerUrl})
  CIBA provider     ${cluster.issuer}   (users: alice@example.com, bob@example.com)
  Device page       ${cluster.issuer}/device   (approve or deny requests here)
  HTTP API          ${cluster.apiUrls.join('  ')}   (key ${cluster.apiKey})
  Approval workers  ${ports.workerMetrics.length}, metrics at ${ports.workerMetrics.map((p) => `http://${HOST}:${p}/metrics`).join(' ')}
  Server metrics    ${Object.values(ports.temporal)
    .map((s) => `:${s.metrics}`)
    .join(' ')}   (Prometheus)
  Logs              ${rel(paths.logs)}

Ask Alice to approve a payment (in another terminal), then approve it on the device page:
  ${clientEnv} npm run ciba -- request --login-hint alice@example.com \\
    --binding-message "Pay 50.00 USD to ExampleCorp" --wait \\
    --authorization-details '[{"type":"payment_initiation","instructedAmount":{"currency":"USD","amount":"50.00"},"creditorName":"ExampleCorp"}]'

Or through one API instance, and read the result through the other:
  curl -u '${cluster.apiKey}' -H 'Idempotency-Key: order-4711' -H 'Content-Type: application/json' ${api1}/approvals \\
    -d '{"loginHint":"alice@example.com","bindingMessage":"Pay 50.00 USD to ExampleCorp"}'
  curl -u '${cluster.apiKey}' ${api2 ?? api1}/approvals/ID/result

What the cluster holds (the frontend wants a token: temporal-reader reads, temporal-worker writes; docs/cluster-auth.md):
  ${readerToken}
  ${tlsEnv} ${temporalCli} workflow list --address ${cluster.temporalAddress} --api-key "$TOKEN"
${describePorts(layout)}
Ctrl-C stops everything (PostgreSQL last); npm run cluster again picks up where it left off.`);
}

function describePorts(layout: ClusterLayout): string {
  return layout.ports.postgres === 15432 ? '' : `  (ports moved by CIBA_CLUSTER_PORT_OFFSET)\n`;
}

void main();
