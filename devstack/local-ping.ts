/**
 * CIBA ping on this machine (the benchmark, the tests). What ping mode needs: a local CA and certificate for the worker's notification endpoint, a free port, the
 * provider pinging that endpoint (trusting the CA), and the worker on the ping client with the endpoint's settings.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureLocalTls, type LocalTls } from './local-tls';
import { getFreePort } from './ports';

export interface PingSetup {
  providerEnv: Record<string, string>;
  workerEnv: Record<string, string>;
  tls: LocalTls;
  /** The worker's notification endpoint: https://localhost:PORT/ciba/notify. */
  endpoint: string;
}

export async function pingSetup(): Promise<PingSetup> {
  const tls = await ensureLocalTls(mkdtempSync(path.join(os.tmpdir(), 'ciba-ping-tls-')));
  const port = await getFreePort();
  const endpoint = `https://localhost:${port}/ciba/notify`;
  return {
    tls,
    endpoint,
    providerEnv: {
      IDP_PING_NOTIFICATION_ENDPOINT: endpoint,
      IDP_PING_CA_FILE: tls.caFile,
    },
    workerEnv: {
      CIBA_CLIENT_ID: 'ciba-agent-ping',
      // The local provider pings; the auth0 profile (its binding-message rules) says Auth0 does not.
      CIBA_PROVIDER_PROFILE: 'generic',
      CIBA_TOKEN_DELIVERY_MODE: 'ping',
      CIBA_NOTIFICATION_PORT: String(port),
      CIBA_NOTIFICATION_TLS_CERT_FILE: tls.certFile,
      CIBA_NOTIFICATION_TLS_KEY_FILE: tls.keyFile,
    },
  };
}
