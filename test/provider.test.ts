/**
 * The local CIBA provider, exercised over plain HTTP against real `provider/main.ts` processes
 * (IDP_PORT=0, a temp IDP_DATA_DIR, 1 s poll interval).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

import { HANG_DETECTOR_MS } from './support/wait';

// Above the hang detectors of the waits a test makes in a row (up to four provider starts).
jest.setTimeout(5 * HANG_DETECTOR_MS);

const ROOT = path.resolve(__dirname, '..');
const CLIENT_ID = 'ciba-agent';
const CLIENT_SECRET = 'ciba-agent-secret';
const RESOURCE = 'https://api.example.com/payments';
const CIBA = 'urn:openid:params:grant-type:ciba';
const BINDING = 'Approve payment of 50.00 USD to ExampleCorp';
const PAYMENT = {
  type: 'payment_initiation',
  locations: ['https://example.com/payments'],
  instructedAmount: { currency: 'USD', amount: '50.00' },
  creditorName: 'ExampleCorp',
  creditorAccount: { iban: 'DE02100100109307118603' },
  remittanceInformationUnstructured: 'Invoice 42',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmpDirs: string[] = [];
const children: ChildProcess[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-test-'));
  tmpDirs.push(dir);
  return dir;
}

interface Idp {
  issuer: string;
  port: number;
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `provider/main.ts` (node --import tsx, so the pid is the provider itself) and waits for the ready line. */
async function startIdp(env: Record<string, string>): Promise<Idp> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'provider/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, IDP_PORT: '0', IDP_POLL_INTERVAL: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<{ event: string; issuer: string; deviceUrl: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`provider not ready in ${HANG_DETECTOR_MS} ms: ${stderr}`)),
      HANG_DETECTOR_MS,
    );
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`provider exited (${code}): ${stderr}`));
    });
  });
  expect(ready.event).toBe('ready');
  expect(ready.deviceUrl).toBe(`${ready.issuer}/device`);
  return { issuer: ready.issuer, port: Number(new URL(ready.issuer).port), child, stderr: () => stderr, exited };
}

const basic = (id = CLIENT_ID, secret = CLIENT_SECRET) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

interface Answer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

async function post(url: string, form: Record<string, string>, auth = basic()): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.json();
}

async function postJson(url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
}

function bcAuthorize(idp: Idp, params: Record<string, string>, auth?: string): Promise<Answer> {
  return post(
    `${idp.issuer}/bc-authorize`,
    { scope: 'openid', login_hint: 'alice', binding_message: BINDING, ...params },
    auth,
  );
}

function poll(idp: Idp, authReqId: string, auth?: string): Promise<Answer> {
  return post(`${idp.issuer}/oauth/token`, { grant_type: CIBA, auth_req_id: authReqId }, auth);
}

/** Starts a request for alice with the payment, checks the Auth0-shaped answer and returns auth_req_id. */
async function initiate(idp: Idp, params: Record<string, string> = {}, auth?: string): Promise<string> {
  const res = await bcAuthorize(
    idp,
    {
      scope: 'openid offline_access email payments:write',
      authorization_details: JSON.stringify([PAYMENT]),
      ...params,
    },
    auth,
  );
  expect(res.status).toBe(200);
  expect(typeof res.body.auth_req_id).toBe('string');
  expect(res.body.interval).toBe(1);
  return res.body.auth_req_id as string;
}

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sleep(200);
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('local CIBA provider', () => {
  let idp: Idp;
  let discovery: Record<string, any>;

  beforeAll(async () => {
    idp = await startIdp({ IDP_DATA_DIR: tempDir() });
    discovery = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
  });

  afterAll(async () => {
    idp.child.kill('SIGINT');
    expect(await idp.exited).toBe(0); // clean stop on SIGINT
  });

  test('discovery advertises the Auth0-style CIBA endpoints', () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(discovery).toMatchObject({
      issuer: idp.issuer,
      backchannel_authentication_endpoint: `${idp.issuer}/bc-authorize`,
      token_endpoint: `${idp.issuer}/oauth/token`,
      jwks_uri: `${idp.issuer}/.well-known/jwks.json`,
      backchannel_token_delivery_modes_supported: ['poll', 'ping'],
    });
    expect(discovery.grant_types_supported).toContain(CIBA);
    expect(discovery.authorization_details_types_supported).toEqual(['payment_initiation', 'account_information']);
  });

  test('full poll flow: pending, device approval, tokens with authorization_details, payment, single use', async () => {
    const requestedAtMs = Date.now();
    const res = await bcAuthorize(idp, {
      scope: 'openid offline_access email payments:write',
      authorization_details: JSON.stringify([PAYMENT]),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ auth_req_id: expect.any(String), expires_in: 300, interval: 1 });
    const authReqId = res.body.auth_req_id as string;

    await sleep(1000);
    const pending = await poll(idp, authReqId);
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('authorization_pending');

    const list = await getJson(`${idp.issuer}/device/requests?user=alice@example.com`);
    const item = list.find((r: any) => r.auth_req_id === authReqId);
    expect(item).toMatchObject({
      user: 'auth0|alice',
      login_hint: 'alice',
      binding_message: BINDING,
      authorization_details: [PAYMENT],
      summary: ['Pay 50.00 USD to ExampleCorp (Invoice 42)'],
      scope: 'openid offline_access email payments:write',
    });
    // 300 s from the request (in whole seconds), however long the test has taken since.
    expect(Date.parse(item.expires_at)).toBeGreaterThanOrEqual(requestedAtMs - 1000 + 300_000);
    const bobs = await getJson(`${idp.issuer}/device/requests?user=bob`);
    expect(bobs.some((r: any) => r.auth_req_id === authReqId)).toBe(false);

    const page = await fetch(`${idp.issuer}/device`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/device/requests');

    expect((await postJson(`${idp.issuer}/device/requests/${authReqId}/approve`)).body).toEqual({ status: 'approved' });
    const again = await postJson(`${idp.issuer}/device/requests/${authReqId}/approve`);
    expect(again.status).toBe(409);
    expect((await postJson(`${idp.issuer}/device/requests/nope/approve`)).status).toBe(404);
    const after = await getJson(`${idp.issuer}/device/requests`);
    expect(after.some((r: any) => r.auth_req_id === authReqId)).toBe(false);

    await sleep(1000);
    const tokens = await poll(idp, authReqId);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({
      token_type: 'Bearer',
      access_token: expect.any(String),
      id_token: expect.any(String),
      refresh_token: expect.any(String),
      expires_in: expect.any(Number),
      authorization_details: [PAYMENT],
    });

    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    const at = await jwtVerify(tokens.body.access_token, jwks, {
      issuer: idp.issuer,
      audience: RESOURCE,
      typ: 'at+jwt',
    });
    expect(at.protectedHeader.alg).toBe('RS256');
    expect(at.payload).toMatchObject({ sub: 'auth0|alice', client_id: CLIENT_ID, scope: 'payments:write' });
    expect(at.payload.authorization_details).toEqual([PAYMENT]);
    const idToken = await jwtVerify(tokens.body.id_token, jwks, { issuer: idp.issuer, audience: CLIENT_ID });
    expect(idToken.protectedHeader.alg).toBe('RS256');
    expect(idToken.payload).toMatchObject({ sub: 'auth0|alice', email: 'alice@example.com', email_verified: true });

    const pay = (body: unknown, token?: string) =>
      postJson(`${idp.issuer}/api/payments`, body, token ? { authorization: `Bearer ${token}` } : {});
    const payment = { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' };
    const paid = await pay(payment, tokens.body.access_token);
    expect(paid.status).toBe(201);
    expect(paid.body).toMatchObject({ ...payment, status: 'executed', paymentId: expect.stringMatching(/^pay_/) });
    const more = await pay({ ...payment, amount: '500.00' }, tokens.body.access_token);
    expect(more.status).toBe(403);
    expect(more.body.error).toBe('insufficient_authorization_details');
    expect((await pay(payment)).body.error).toBe('invalid_token');
    expect((await pay(payment, tokens.body.id_token)).status).toBe(401); // an ID token is no access token

    // offline_access gave a refresh token; refreshed access tokens keep the approved authorization_details.
    const refreshed = await post(`${idp.issuer}/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.authorization_details).toEqual([PAYMENT]);
    expect(decodeJwt(refreshed.body.access_token).authorization_details).toEqual([PAYMENT]);

    // An auth_req_id can be exchanged once; trying again also revokes what it gave.
    await sleep(1000);
    const second = await poll(idp, authReqId);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    const revoked = await post(`${idp.issuer}/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: refreshed.body.refresh_token ?? tokens.body.refresh_token,
    });
    expect(revoked.body.error).toBe('invalid_grant');

    // The request log saw it all, without secrets or tokens.
    const log = await getJson(`${idp.issuer}/dev/log?authReqId=${encodeURIComponent(authReqId)}`);
    expect(log.map((e: any) => [e.endpoint, e.status, e.error])).toEqual([
      ['bc-authorize', 200, undefined],
      ['token', 400, 'authorization_pending'],
      ['token', 200, undefined],
      ['token', 400, 'invalid_grant'],
    ]);
    expect(log[0]).toMatchObject({ loginHint: 'alice', bindingMessage: BINDING, atMs: expect.any(Number) });
    expect(log[1]).toMatchObject({ grantType: CIBA, bindingMessage: BINDING, at: expect.any(String) });
    const raw = JSON.stringify(await getJson(`${idp.issuer}/dev/log`));
    expect(raw).not.toContain(CLIENT_SECRET);
    expect(raw).not.toContain(tokens.body.access_token);
    expect(raw).not.toContain(tokens.body.refresh_token);
    const byMessage = await getJson(`${idp.issuer}/dev/log?bindingMessage=${encodeURIComponent(BINDING)}`);
    expect(byMessage.length).toBeGreaterThanOrEqual(4);
    expect(byMessage.every((e: any) => e.bindingMessage === BINDING)).toBe(true);
  });

  test('deny flow answers access_denied', async () => {
    const authReqId = await initiate(idp);
    expect((await postJson(`${idp.issuer}/device/requests/${authReqId}/deny`)).body).toEqual({ status: 'denied' });
    expect((await postJson(`${idp.issuer}/device/requests/${authReqId}/approve`)).status).toBe(409);
    await sleep(1000);
    const res = await poll(idp, authReqId);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('access_denied');
  });

  test('an expired request answers expired_token and can no longer be decided', async () => {
    const authReqId = await initiate(idp, { requested_expiry: '1' });
    await sleep(1300);
    const list = await getJson(`${idp.issuer}/device/requests`);
    expect(list.some((r: any) => r.auth_req_id === authReqId)).toBe(false);
    const approve = await postJson(`${idp.issuer}/device/requests/${authReqId}/approve`);
    expect([approve.status, approve.body.error]).toEqual([409, 'expired']);
    const res = await poll(idp, authReqId);
    expect([res.status, res.body.error]).toEqual([400, 'expired_token']);
  });

  test("login_hint: Auth0's iss_sub JSON (with or without trailing slash) and e-mail", async () => {
    for (const iss of [`${idp.issuer}/`, idp.issuer]) {
      const hint = JSON.stringify({ format: 'iss_sub', iss, sub: 'auth0|bob' });
      const res = await bcAuthorize(idp, { login_hint: hint });
      expect(res.status).toBe(200);
      const list = await getJson(`${idp.issuer}/device/requests?user=auth0|bob`);
      expect(list.find((r: any) => r.auth_req_id === res.body.auth_req_id)?.user).toBe('auth0|bob');
    }
    const byEmail = await bcAuthorize(idp, { login_hint: 'bob@example.com' });
    expect(byEmail.status).toBe(200);
    const otherIssuer = JSON.stringify({ format: 'iss_sub', iss: 'https://tenant.auth0.com/', sub: 'auth0|bob' });
    expect((await bcAuthorize(idp, { login_hint: otherIssuer })).body.error).toBe('invalid_request');
  });

  test('request errors: unknown user, binding message, authorization_details, audience, requested_expiry', async () => {
    const expectError = async (params: Record<string, string>, error: string) => {
      const res = await bcAuthorize(idp, params);
      expect([res.status, res.body.error]).toEqual([400, error]);
    };
    await expectError({ login_hint: 'mallory' }, 'unknown_user_id');
    await expectError(
      { login_hint: JSON.stringify({ format: 'iss_sub', iss: idp.issuer, sub: 'auth0|mallory' }) },
      'unknown_user_id',
    );
    await expectError({ binding_message: 'x'.repeat(65) }, 'invalid_binding_message');
    await expectError({ binding_message: 'Pay now!' }, 'invalid_binding_message');
    await expectError({ binding_message: '' }, 'invalid_binding_message');
    const ok64 = await bcAuthorize(idp, { binding_message: `Ref #12: a+b_c-d.e,f ${'x'.repeat(42)}` });
    expect(ok64.status).toBe(200);

    const { creditorName: _omit, ...noCreditor } = PAYMENT;
    await expectError({ authorization_details: JSON.stringify([noCreditor]) }, 'invalid_authorization_details');
    await expectError(
      { authorization_details: JSON.stringify([{ ...PAYMENT, instructedAmount: { currency: 'USD', amount: 50 } }]) },
      'invalid_authorization_details',
    );
    await expectError(
      { authorization_details: JSON.stringify([{ type: 'crypto_transfer' }]) },
      'invalid_authorization_details',
    );
    await expectError({ authorization_details: '{not json' }, 'invalid_authorization_details');
    const account = await bcAuthorize(idp, {
      authorization_details: JSON.stringify([{ type: 'account_information', actions: ['read'], anything: { x: 1 } }]),
    });
    expect(account.status).toBe(200);

    expect((await bcAuthorize(idp, { audience: RESOURCE })).status).toBe(200);
    await expectError({ audience: 'https://api.example.com/other' }, 'invalid_target');

    const short = await bcAuthorize(idp, { requested_expiry: '120' });
    expect([short.status, short.body.expires_in]).toEqual([200, 120]);
    const long = await bcAuthorize(idp, { requested_expiry: '259200' });
    expect(long.body.expires_in).toBe(259200);
    await expectError({ requested_expiry: '259201' }, 'invalid_request');

    const wrongSecret = await bcAuthorize(idp, {}, basic(CLIENT_ID, 'wrong'));
    expect([wrongSecret.status, wrongSecret.body.error]).toEqual([401, 'invalid_client']);
  });

  test('polling faster than the interval answers slow_down with interval + 5 and Retry-After', async () => {
    // A ten-minute interval: "faster than the interval" must not depend on how fast this machine is.
    const slow = await startIdp({ IDP_DATA_DIR: tempDir(), IDP_POLL_INTERVAL: '600' });
    const res = await bcAuthorize(slow, { scope: 'openid' });
    expect(res.body.interval).toBe(600);
    const authReqId = res.body.auth_req_id as string;
    const first = await poll(slow, authReqId);
    expect(first.status).toBe(400);
    expect(first.body).toMatchObject({ error: 'slow_down', interval: 605 });
    expect(first.headers.get('retry-after')).toBe('605');

    const second = await poll(slow, authReqId); // and again: each slow_down adds 5 s for good
    expect(second.body).toMatchObject({ error: 'slow_down', interval: 610 });
    expect(second.headers.get('retry-after')).toBe('610');

    // A caller that does not authenticate as the request's client gets invalid_client, not slow_down.
    const stranger = await poll(slow, authReqId, basic(CLIENT_ID, 'wrong'));
    expect([stranger.status, stranger.body.error]).toEqual([401, 'invalid_client']);

    const log = await getJson(`${slow.issuer}/dev/log?authReqId=${authReqId}`);
    expect(log.filter((e: any) => e.error === 'slow_down')).toHaveLength(2);
    slow.child.kill('SIGTERM');
    expect(await slow.exited).toBe(0);
  });

  test('dev control forces slow_down for the next polls', async () => {
    const authReqId = await initiate(idp);
    const forced = await postJson(`${idp.issuer}/dev/requests/${authReqId}/slow-down`, { count: 1 });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ pendingSlowDowns: 1 });
    expect((await postJson(`${idp.issuer}/dev/requests/unknown/slow-down`, {})).status).toBe(404);
    expect((await postJson(`${idp.issuer}/dev/requests/${authReqId}/slow-down`, { count: 0 })).status).toBe(400);

    await sleep(1000); // a correctly paced poll, still slowed down
    const slowed = await poll(idp, authReqId);
    expect(slowed.body).toMatchObject({ error: 'slow_down', interval: 6 });
    await sleep(6000);
    const pending = await poll(idp, authReqId);
    expect(pending.body.error).toBe('authorization_pending');
  });

  test('ping-mode client: approval works even though the ping cannot be delivered', async () => {
    const pingAuth = basic(`${CLIENT_ID}-ping`);
    const missingToken = await bcAuthorize(idp, {}, pingAuth);
    expect(missingToken.body.error).toBe('invalid_request'); // ping mode needs client_notification_token
    const authReqId = await initiate(idp, { client_notification_token: 'notify-me-123' }, pingAuth);
    expect((await postJson(`${idp.issuer}/device/requests/${authReqId}/approve`)).body).toEqual({ status: 'approved' });
    await sleep(1000);
    const otherClient = await poll(idp, authReqId); // the poll-mode client cannot redeem it
    expect([otherClient.status, otherClient.body.error]).toEqual([400, 'invalid_grant']);
    const tokens = await poll(idp, authReqId, pingAuth);
    expect(tokens.status).toBe(200);
    expect(tokens.body.authorization_details).toEqual([PAYMENT]);
    expect(idp.stderr()).toMatch(/ping delivery failed/);
  });
});

describe('slowDownEvery', () => {
  test('every n-th poll answers slow_down', async () => {
    const idp = await startIdp({ IDP_DATA_DIR: tempDir(), IDP_SLOW_DOWN_EVERY: '2' });
    const authReqId = await initiate(idp);
    await sleep(1000);
    expect((await poll(idp, authReqId)).body.error).toBe('authorization_pending');
    await sleep(1000);
    const second = await poll(idp, authReqId);
    expect(second.body).toMatchObject({ error: 'slow_down', interval: 6 });
    idp.child.kill('SIGTERM');
    expect(await idp.exited).toBe(0);
  });

  test('a bad environment value fails at start naming the variable', async () => {
    await expect(startIdp({ IDP_DATA_DIR: tempDir(), IDP_POLL_INTERVAL: 'soon' })).rejects.toThrow(/IDP_POLL_INTERVAL/);
  });
});

describe('restart', () => {
  test('the polling pace survives SIGKILL: a poll right after the restart is still too fast', async () => {
    // A one-hour interval, so that "too fast" does not depend on how long the restart takes.
    const dataDir = tempDir();
    const first = await startIdp({ IDP_DATA_DIR: dataDir, IDP_POLL_INTERVAL: '3600' });
    const res = await bcAuthorize(first, { scope: 'openid' });
    expect(res.body.interval).toBe(3600);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startIdp({ IDP_DATA_DIR: dataDir, IDP_PORT: String(first.port) });
    expect((await poll(second, res.body.auth_req_id)).body).toMatchObject({ error: 'slow_down', interval: 3605 });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  test('a pending request survives SIGKILL; tokens issued before a restart still verify after it', async () => {
    const dataDir = tempDir();
    const first = await startIdp({ IDP_DATA_DIR: dataDir });
    const authReqId = await initiate(first);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startIdp({ IDP_DATA_DIR: dataDir, IDP_PORT: String(first.port) });
    expect(second.issuer).toBe(first.issuer);
    const list = await getJson(`${second.issuer}/device/requests`);
    expect(list.map((r: any) => r.auth_req_id)).toContain(authReqId);
    expect((await postJson(`${second.issuer}/device/requests/${authReqId}/approve`)).body).toEqual({
      status: 'approved',
    });
    second.child.kill('SIGKILL');
    await second.exited;

    const third = await startIdp({ IDP_DATA_DIR: dataDir, IDP_PORT: String(first.port) });
    await sleep(1000); // the 1 s interval, counted from the initiation at the latest
    const tokens = await poll(third, authReqId);
    expect(tokens.status).toBe(200);
    expect(tokens.body.authorization_details).toEqual([PAYMENT]);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);

    const fourth = await startIdp({ IDP_DATA_DIR: dataDir, IDP_PORT: String(first.port) });
    const paid = await postJson(
      `${fourth.issuer}/api/payments`,
      { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' },
      { authorization: `Bearer ${tokens.body.access_token}` },
    );
    expect(paid.status).toBe(201);
    expect(decodeJwt(tokens.body.access_token).iss).toBe(first.issuer);
    fourth.child.kill('SIGTERM');
    expect(await fourth.exited).toBe(0);
  });
});
