import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

import { idpBehaviour, type IdpBehaviourName } from './behaviour';
import { crossSiteGuard, ownOrigins, SECURITY_HEADERS, securityHeaders } from './browser-guard';
import { cibaMiddleware } from './ciba-middleware';
import { loadOrCreateClientKey, type ClientJwks } from './client-keys';
import { devRoutes } from './dev-routes';
import { deviceRoutes } from './device';
import { FileStore } from './file-store';
import { ownRouter } from './http';
import { loadOrCreateKeys, publicJwks } from './keys';
import { outgoingFetch, type OutgoingFetch } from './outgoing-fetch';
import { Pacing } from './pacing';
import { ensurePrivateDir } from './private-files';
import { createOidcProvider, ROUTES, staticClients } from './provider';
import { RequestLog } from './request-log';
import { PaymentLedger, resourceServerRoutes } from './resource-server';
import type { TemporalClientSecrets } from './temporal-clients';
import { addTestUsers } from './users';

export interface ProviderOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 3000; 0 picks a free port (the issuer then uses the bound port). */
  port?: number;
  /**
   * The issuer URL when clients reach the provider by another name than host:port (a container name, a proxy).
   * Default: http://host:port.
   */
  issuer?: string;
  /** Where keys, state (requests, grants, tokens, polling state) and the request log are kept. */
  dataDir: string;
  /** Seconds; the `interval` of every backchannel authentication response. Default 5 (Auth0's). */
  pollInterval?: number;
  /** When n > 0, every n-th poll of each request answers slow_down. Default 0 (off). */
  slowDownEvery?: number;
  /** Default 'ciba-agent' (poll mode); '<clientId>-ping' is the ping-mode twin with the same secret. */
  clientId?: string;
  /** Default 'ciba-agent-secret'. */
  clientSecret?: string;
  /**
   * Public keys of the private_key_jwt client '<clientId>-jwt'. Default: a key pair generated at first start, private
   * key in dataDir/client-jwt-key.pem (mode 0600).
   */
  clientJwks?: ClientJwks;
  /** The demo API (resource indicator / Auth0 audience). Default 'https://api.example.com/payments'. */
  resource?: string;
  /** Whose rules the provider follows where Auth0 and Keycloak differ (behaviour.ts). Default 'auth0'. */
  behaviour?: IdpBehaviourName;
  /**
   * The backchannel_client_notification_endpoint (https) of the ping client '<clientId>-ping'. Default
   * 'https://localhost:8443/ciba/notify'. Loopback targets are allowed (outgoing-fetch.ts).
   */
  pingNotificationEndpoint?: string;
  /** PEM CA certificate(s) trusted for pings besides Node's CAs (e.g. a local dev CA). Default: none. */
  pingCa?: string;
  /** authorization_details types accepted besides the known ones, with any members. Default: none. */
  extraAuthorizationDetailsTypes?: string[];
  /** Secrets of the Temporal API's client-credentials clients (temporal-clients.ts). Default: none. */
  temporalClientSecrets?: TemporalClientSecrets;
  /** Dev-only: also accept the generated users user1..userN (users.ts addTestUsers). Default 0. */
  testUsers?: number;
  /** Log sink (one line per call, never personal data: users by sub); default stderr. */
  log?: (line: string) => void;
}

export interface RunningProvider {
  /** e.g. 'http://127.0.0.1:3000' (no trailing slash). */
  issuer: string;
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'; // listening everywhere: name it by loopback
  return host.includes(':') ? `[${host}]` : host;
}

export async function startProvider(options: ProviderOptions): Promise<RunningProvider> {
  const host = options.host ?? '127.0.0.1';
  const pollInterval = options.pollInterval ?? 5;
  const slowDownEvery = options.slowDownEvery ?? 0;
  const clientId = options.clientId ?? 'ciba-agent';
  const clientSecret = options.clientSecret ?? 'ciba-agent-secret';
  const resource = options.resource ?? 'https://api.example.com/payments';
  const log = options.log ?? ((line: string) => process.stderr.write(`[idp] ${line}\n`));
  if (!Number.isInteger(pollInterval) || pollInterval < 1) throw new TypeError('pollInterval must be an integer >= 1');
  if (!Number.isInteger(slowDownEvery) || slowDownEvery < 0)
    throw new TypeError('slowDownEvery must be an integer >= 0');

  if (options.testUsers) addTestUsers(options.testUsers);
  const dataDir = path.resolve(options.dataDir);
  ensurePrivateDir(dataDir);
  const behaviour = idpBehaviour(options.behaviour);

  // Listen first: with port 0 the issuer can only be built from the bound port.
  let handle: http.RequestListener = (_req, res) => {
    const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
    res.writeHead(503, { ...SECURITY_HEADERS, ...headers });
    res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'starting' }));
  };
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const issuer =
    options.issuer?.replace(/\/$/, '') ?? `http://${urlHost(host)}:${(server.address() as AddressInfo).port}`;

  let store: FileStore | undefined;
  let requestLog: RequestLog | undefined;
  let outgoing: OutgoingFetch | undefined;
  const release = async () => {
    store?.close();
    requestLog?.close();
    await outgoing?.close();
  };
  try {
    store = new FileStore(path.join(dataDir, 'state.json'), { log });
    const keys = loadOrCreateKeys(dataDir);
    const clientJwks = options.clientJwks ?? generatedClientJwks(dataDir, `${clientId}-jwt`, log);
    requestLog = new RequestLog(dataDir);
    outgoing = outgoingFetch({ extraCa: options.pingCa });
    const pacing = new Pacing(store, { pollInterval, slowDownEvery });

    const provider = createOidcProvider({
      issuer,
      clientId,
      clientSecret,
      clientJwks,
      resource,
      keys,
      store,
      behaviour,
      pingNotificationEndpoint: options.pingNotificationEndpoint,
      extraAuthorizationDetailsTypes: options.extraAuthorizationDetailsTypes,
      temporalClientSecrets: options.temporalClientSecrets,
      fetch: outgoing.fetch,
      onAuthenticationRequest: (_authReqId, accountId, client) =>
        log(`device: new request for ${accountId} from ${client} (see ${issuer}/device)`),
    });
    provider.on('server_error', (_ctx, err) => log(`server_error: ${err.message}`));

    // Our own routes, on the provider's Koa app (oidc-provider answers every other path). The device API and the
    // dev-only routes take no credentials: their router refuses foreign Hosts and cross-site POSTs.
    const devOnly = ownRouter(log);
    devOnly.use(crossSiteGuard(ownOrigins(issuer, (server.address() as AddressInfo).port)));
    deviceRoutes(devOnly, { provider, store, behaviour, log });
    const ledger = new PaymentLedger();
    devRoutes(devOnly, requestLog, pacing, ledger);
    const api = ownRouter(log);
    resourceServerRoutes(api, { issuer, resource, jwks: publicJwks(keys), ledger });

    provider.use(securityHeaders);
    provider.use(
      cibaMiddleware({
        paths: { backchannel: ROUTES.backchannel, token: ROUTES.token },
        pollInterval,
        pacing,
        requestLog,
        clientSecrets: new Map(staticClients(clientId, clientSecret).map((c) => [c.client_id, clientSecret])),
        log,
      }),
    );
    provider.use(devOnly.routes());
    provider.use(api.routes());
    handle = provider.callback();
  } catch (err) {
    server.close();
    await release();
    throw err;
  }

  return {
    issuer,
    // State is written synchronously on every change: stop serving, then release the files and the ping agent.
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      await release();
    },
  };
}

/** The local stack's private_key_jwt client key; says where the private key is (never what it is). */
function generatedClientJwks(dataDir: string, clientId: string, log: (line: string) => void): ClientJwks {
  const { jwks, keyFile } = loadOrCreateClientKey(dataDir);
  log(
    `client ${clientId} (private_key_jwt): private key in ${keyFile} (kid ${jwks.keys[0]?.kid}); use it as CIBA_CLIENT_PRIVATE_KEY_FILE`,
  );
  return jwks;
}
