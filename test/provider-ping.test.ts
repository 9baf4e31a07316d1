/**
 * CIBA ping delivery (CIBA Core 10.2) by the local provider to an https endpoint on this machine: the test runs the
 * client's notification endpoint on 127.0.0.1 with a certificate from the dev stack's local CA, and starts the provider with
 * IDP_PING_NOTIFICATION_ENDPOINT pointing there and IDP_PING_CA_FILE naming that CA.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { ensureLocalTls, type LocalTls } from '../devstack/local-tls';

import { startProvider, type StartedProvider } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';

jest.setTimeout(4 * HANG_DETECTOR_MS);

const PING_CLIENT = 'ciba-agent-ping';
const SECRET = 'ciba-agent-secret';
const CIBA = 'urn:openid:params:grant-type:ciba';
const BINDING = 'Approve payment of 12.00 USD to PingCorp';

interface Ping {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

/** The client's notification endpoint: records every request; answers 500 to the bearer `fail-me`, else 204. */
async function startNotificationEndpoint(
  tls: LocalTls,
): Promise<{ url: string; pings: Ping[]; close(): Promise<void> }> {
  const pings: Ping[] = [];
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      pings.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      res.writeHead(req.headers.authorization === 'Bearer fail-me' ? 500 : 204);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/ciba/notify`,
    pings,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const basic = `Basic ${Buffer.from(`${PING_CLIENT}:${SECRET}`).toString('base64')}`;

async function post(url: string, form: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: await res.json() };
}

/** A backchannel request of the ping client; returns auth_req_id and the interval to poll at. */
async function initiate(idp: StartedProvider, notificationToken: string): Promise<{ id: string; interval: number }> {
  const res = await post(`${idp.issuer}/bc-authorize`, {
    scope: 'openid email',
    login_hint: 'alice',
    binding_message: BINDING,
    client_notification_token: notificationToken,
  });
  expect(res.status).toBe(200);
  return { id: res.body.auth_req_id as string, interval: (res.body.interval as number | undefined) ?? 5 };
}

async function decide(idp: StartedProvider, authReqId: string, decision: 'approve' | 'deny'): Promise<void> {
  const res = await fetch(`${idp.issuer}/device/requests/${encodeURIComponent(authReqId)}/${decision}`, {
    method: 'POST',
  });
  expect([res.status, await res.json()]).toEqual([200, { status: decision === 'approve' ? 'approved' : 'denied' }]);
}

/** Polls the token endpoint as a client should (interval between polls, slower on slow_down) until it is decided. */
async function pollUntilDecided(
  idp: StartedProvider,
  request: { id: string; interval: number },
): Promise<{ status: number; body: any }> {
  let interval = request.interval;
  return waitUntil(async () => {
    await new Promise((resolve) => setTimeout(resolve, interval * 1000));
    const res = await post(`${idp.issuer}/oauth/token`, { grant_type: CIBA, auth_req_id: request.id });
    if (res.body.error === 'slow_down') interval = (res.body.interval as number | undefined) ?? interval + 5;
    return res.body.error === 'slow_down' || res.body.error === 'authorization_pending' ? undefined : res;
  }, 'poll until decided');
}

const providerLog = (idp: StartedProvider) => fs.readFileSync(idp.logFile, 'utf8');

let tls: LocalTls;
let endpoint: Awaited<ReturnType<typeof startNotificationEndpoint>>;
let caFile: string;
let tmpDir: string;
const providers: StartedProvider[] = [];

beforeAll(async () => {
  // The dev stack's local CA and a certificate for localhost / 127.0.0.1 (devstack/local-tls.ts).
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-ping-'));
  tls = await ensureLocalTls(tmpDir);
  caFile = tls.caFile;
  endpoint = await startNotificationEndpoint(tls);
});

afterAll(async () => {
  for (const idp of providers) {
    await idp.kill('SIGTERM');
    fs.rmSync(idp.dataDir, { recursive: true, force: true });
  }
  await endpoint?.close();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<StartedProvider> {
  const idp = await startProvider(env);
  providers.push(idp);
  return idp;
}

describe('ping delivery to a local https endpoint', () => {
  let idp: StartedProvider;
  beforeAll(async () => {
    idp = await start({ IDP_PING_NOTIFICATION_ENDPOINT: endpoint.url, IDP_PING_CA_FILE: caFile });
  });

  const pingsFor = (authReqId: string) =>
    endpoint.pings.filter((p) => (p.body as { auth_req_id?: string }).auth_req_id === authReqId);

  test('approve: exactly one ping with the bearer and auth_req_id, then the poll returns tokens', async () => {
    const request = await initiate(idp, 'notify-approve-1');
    expect(pingsFor(request.id)).toEqual([]); // nothing before the decision
    await decide(idp, request.id, 'approve');

    const [ping] = await waitUntil(() => pingsFor(request.id).length > 0 && pingsFor(request.id), 'the ping');
    expect(pingsFor(request.id)).toHaveLength(1);
    expect(ping).toEqual({
      method: 'POST',
      path: '/ciba/notify',
      authorization: 'Bearer notify-approve-1',
      contentType: expect.stringMatching(/^application\/json/),
      body: { auth_req_id: request.id },
    });

    const tokens = await pollUntilDecided(idp, request);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
    expect(typeof tokens.body.id_token).toBe('string');
    await waitUntil(() => /ping delivered to client ciba-agent-ping/.test(providerLog(idp)), 'the delivery log');
  });

  test('deny: a ping too, then the poll answers access_denied', async () => {
    const request = await initiate(idp, 'notify-deny-1');
    await decide(idp, request.id, 'deny');
    await waitUntil(() => pingsFor(request.id).length > 0, 'the ping');
    expect(pingsFor(request.id)).toEqual([
      expect.objectContaining({ authorization: 'Bearer notify-deny-1', body: { auth_req_id: request.id } }),
    ]);
    const denied = await pollUntilDecided(idp, request);
    expect([denied.status, denied.body.error]).toEqual([400, 'access_denied']);
  });

  test('a failed ping (endpoint answers 500) is logged without personal data and keeps the decision', async () => {
    const request = await initiate(idp, 'fail-me');
    await decide(idp, request.id, 'approve');
    expect(pingsFor(request.id)).toHaveLength(1);

    const line = await waitUntil(
      () =>
        providerLog(idp)
          .split('\n')
          .find((l) => l.includes('ping delivery failed')),
      'the failure log line',
    );
    expect(line).toMatch(/ping delivery failed for client ciba-agent-ping: .*500/);
    for (const secret of ['fail-me', request.id, BINDING, 'alice']) expect(line).not.toContain(secret);
    expect(providerLog(idp)).not.toContain('fail-me'); // the notification token is logged nowhere

    const tokens = await pollUntilDecided(idp, request);
    expect(tokens.status).toBe(200);
  });
});

describe('without IDP_PING_CA_FILE', () => {
  test("the endpoint's CA is not trusted: the ping fails, is logged, and the client can still poll", async () => {
    const idp = await start({ IDP_PING_NOTIFICATION_ENDPOINT: endpoint.url });
    const request = await initiate(idp, 'notify-untrusted-1');
    await decide(idp, request.id, 'approve');
    await waitUntil(() => /ping delivery failed for client ciba-agent-ping/.test(providerLog(idp)), 'the log');
    expect(endpoint.pings.filter((p) => p.authorization === 'Bearer notify-untrusted-1')).toEqual([]);
    expect((await pollUntilDecided(idp, request)).status).toBe(200);
  });
});

describe('configuration', () => {
  test('IDP_PING_NOTIFICATION_ENDPOINT must be https; IDP_PING_CA_FILE must hold a certificate', async () => {
    await expect(start({ IDP_PING_NOTIFICATION_ENDPOINT: 'http://127.0.0.1:1/notify' })).rejects.toThrow(
      /IDP_PING_NOTIFICATION_ENDPOINT/,
    );
    await expect(start({ IDP_PING_CA_FILE: path.join(tmpDir, 'missing.pem') })).rejects.toThrow(/IDP_PING_CA_FILE/);
  });
});
