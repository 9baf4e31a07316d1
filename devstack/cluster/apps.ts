/**
 * The project's own processes in the cluster, started as `npm start` starts them (devstack/ts-process.ts) with one
 * environment: the local CIBA provider, APPROVAL_WORKERS approval workers on the same task queue, API_INSTANCES
 * HTTP API instances (same keys, same id key: an approval started through one is read through any), and the codec
 * server for the UI (in this process, as in `npm start`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { temporalSettings } from '../../common/config';
import { startCodecServer, type RunningCodecServer } from '../codec-server';
import { encodeEnabled } from '../codec-server-config';
import { LOCAL_API_KEYS_FILE, localApiKey } from '../local-config';
import { startTsProcess, type ManagedProcess } from '../ts-process';
import { ROUTES } from '../../provider/provider';
import { HOST, NAMESPACE, frontendAddress, type ClusterLayout } from './layout';
import type { Secrets } from './postgres';
import { clientTlsEnv, type ClusterTls } from './mtls';

export interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

/** Output of the parts: log files only, unless CIBA_CLUSTER_ECHO=true copies it to stderr as well. */
const echo = process.env.CIBA_CLUSTER_ECHO === 'true';

/** The settings every part of the cluster gets (over .env), and that a client needs to talk to it. */
export function clusterEnv(
  layout: ClusterLayout,
  issuer: string,
  secrets: Secrets,
  tls?: ClusterTls,
): Record<string, string> {
  const ownKeys = Boolean(process.env.CIBA_API_KEYS || process.env.CIBA_API_KEYS_FILE);
  return {
    TEMPORAL_ADDRESS: frontendAddress(layout),
    TEMPORAL_NAMESPACE: NAMESPACE,
    // The frontend's authorizer (docs/cluster-auth.md): a refreshing client-credentials token of temporal-worker
    // (default:write). Plaintext gRPC on loopback: a token would otherwise turn TLS on.
    ...(tls ? clientTlsEnv(tls) : { TEMPORAL_TLS: 'false' }),
    CIBA_TEMPORAL_TOKEN_URL: `${issuer}${ROUTES.token}`,
    CIBA_TEMPORAL_CLIENT_ID: 'temporal-worker',
    CIBA_TEMPORAL_CLIENT_SECRET_FILE: secretFile(
      layout.paths.temporalWorkerSecret,
      secrets.temporalClients['temporal-worker'],
    ),
    TEMPORAL_UI_URL: `http://${HOST}:${layout.ports.ui}`,
    CIBA_ISSUER: issuer,
    // Ping mode needs an https endpoint per worker (devstack/local-ping.ts): the cluster polls.
    CIBA_TOKEN_DELIVERY_MODE: 'poll',
    CIBA_API_HOST: HOST,
    ...(ownKeys ? {} : { CIBA_API_KEYS_FILE: LOCAL_API_KEYS_FILE }),
    CIBA_API_ID_KEY_FILE: apiIdKeyFile(layout),
  };
}

/** The local provider's issuer: fixed, so that the workers can start beside the provider rather than after it. */
export function providerIssuer(layout: ClusterLayout): string {
  return `http://${HOST}:${layout.ports.provider}`;
}

/** The local provider, with its state in `.data/cluster/idp`, and the Temporal API's clients. */
export async function startProvider(
  layout: ClusterLayout,
  secrets: Secrets,
  onStarted: (part: Stoppable) => void,
  extraEnv: Record<string, string> = {},
): Promise<void> {
  const issuer = providerIssuer(layout);
  const provider = await startTsProcess(
    'idp',
    'provider/main.ts',
    {
      ...extraEnv,
      IDP_HOST: HOST,
      IDP_PORT: String(layout.ports.provider),
      IDP_ISSUER: issuer,
      IDP_DATA_DIR: layout.paths.idp,
      IDP_TEMPORAL_CLIENT_SECRETS: JSON.stringify(secrets.temporalClients),
    },
    /"event":"ready"/,
    { logDir: layout.paths.logs, echo },
  );
  onStarted(stoppable('idp', provider));
}

/** Approval worker `index` (0-based): its own Prometheus and notification ports, the cluster's environment. */
export async function startWorker(
  layout: ClusterLayout,
  env: Record<string, string>,
  index: number,
): Promise<ManagedProcess> {
  return startTsProcess(
    `worker-${index + 1}`,
    'worker/main.ts',
    {
      ...env,
      CIBA_METRICS_ADDRESS: `${HOST}:${layout.ports.workerMetrics[index]!}`,
      CIBA_NOTIFICATION_PORT: String(layout.ports.workerNotification[index]!),
      // The sample payment agent (npm run demo) on the first worker only: the others bundle approvals alone.
      ...(index > 0 && { CIBA_AGENT_TASK_QUEUE: 'off' }),
    },
    /ciba worker: task queue/,
    { logDir: layout.paths.logs, echo, timeoutMs: 300_000 },
  );
}

/** The approval workers, started side by side; each serves Prometheus metrics on its own port. */
export async function startWorkers(
  layout: ClusterLayout,
  env: Record<string, string>,
  onStarted: (part: Stoppable, process: ManagedProcess, index: number) => void,
): Promise<void> {
  await allStarted(
    layout.ports.workerMetrics.map(async (_, i) => {
      const worker = await startWorker(layout, env, i);
      onStarted(stoppable(`worker-${i + 1}`, worker), worker, i);
    }),
  );
}

/** HTTP API instance `index` (0-based) on its own port; its URL from its ready line. */
export async function startApi(
  layout: ClusterLayout,
  env: Record<string, string>,
  index: number,
): Promise<{ process: ManagedProcess; url: string }> {
  const port = layout.ports.api[index]!;
  const api = await startTsProcess(
    `api-${index + 1}`,
    'api/main.ts',
    { ...env, CIBA_API_PORT: String(port) },
    /ciba api: listening on/,
    { logDir: layout.paths.logs, echo, timeoutMs: 120_000 },
  );
  return { process: api, url: /listening on (\S+)/.exec(api.readyLine)?.[1] ?? `http://${HOST}:${port}` };
}

/** The HTTP API instances; returns their URLs. */
export async function startApis(
  layout: ClusterLayout,
  env: Record<string, string>,
  onStarted: (part: Stoppable, process: ManagedProcess, index: number) => void,
): Promise<string[]> {
  return allStarted(
    layout.ports.api.map(async (_, i) => {
      const { process: api, url } = await startApi(layout, env, i);
      onStarted(stoppable(`api-${i + 1}`, api), api, i);
      return url;
    }),
  );
}

/** The codec server the UI's browser page calls; /encode as CODEC_SERVER_ENCODE says (off by default). */
export async function startClusterCodecServer(layout: ClusterLayout): Promise<RunningCodecServer> {
  const codec = temporalSettings().dataConverter.payloadCodecs![0]!;
  return startCodecServer(codec, {
    auth: { mode: 'local' },
    uiOrigins: [`http://${HOST}:${layout.ports.ui}`, `http://localhost:${layout.ports.ui}`],
    port: layout.ports.codecServer,
    encode: encodeEnabled(),
  });
}

/** The API key to print: the local dev key, unless .env names keys of its own. */
export function apiKeyForSamples(): string {
  const usesLocalKey =
    !process.env.CIBA_API_KEYS &&
    path.resolve(process.env.CIBA_API_KEYS_FILE ?? LOCAL_API_KEYS_FILE) === LOCAL_API_KEYS_FILE;
  return (usesLocalKey && localApiKey()) || 'ID:SECRET';
}

/** `secret` in `file` (mode 0600), rewritten when it differs; returns the file. */
function secretFile(file: string, secret: string): string {
  if (!existsSync(file) || readFileSync(file, 'utf8').trim() !== secret) {
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  }
  return file;
}

/** The API instances' shared id key (32 random bytes, base64), made on first start. */
function apiIdKeyFile(layout: ClusterLayout): string {
  const file = layout.paths.apiIdKey;
  if (!existsSync(file) || readFileSync(file, 'utf8').trim() === '') {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
  return file;
}

function stoppable(name: string, part: ManagedProcess): Stoppable {
  return { name, stop: () => part.kill('SIGTERM') };
}

/** Like Promise.all, but waits for every start to settle first, so that none is left running unseen. */
export async function allStarted<T>(starts: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
