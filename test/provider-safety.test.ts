/**
 * The local stack is safe by default: no cross-site POSTs to the device API or the dev-only routes, no framing,
 * no personal data in the provider's output or on its disk beyond its state, owner-only files, loopback-only
 * ports in docker-compose.yml, and a proper 413 for oversized requests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  CIBA,
  getJson,
  pollUntilDone,
  postForm,
  postJson,
  startIdp,
  stopAllIdps,
  tempDir,
  type LocalIdp,
} from './support/local-idp';
import { HANG_DETECTOR_MS } from './support/wait';

// Above the hang detectors of the waits a test makes in a row (providers started).
jest.setTimeout(3 * HANG_DETECTOR_MS);

const BINDING = 'Pay 50.00 USD to ExampleCorp ref 7Q2X';
const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'USD', amount: '50.00' },
  creditorName: 'ExampleCorp',
  remittanceInformationUnstructured: 'Invoice 42',
};

afterAll(stopAllIdps);

async function initiate(idp: LocalIdp, params: Record<string, string> = {}): Promise<string> {
  const res = await postForm(`${idp.issuer}/bc-authorize`, {
    scope: 'openid email payments:write',
    login_hint: 'alice@example.com',
    binding_message: BINDING,
    authorization_details: JSON.stringify([PAYMENT]),
    ...params,
  });
  expect(res.status).toBe(200);
  return res.body.auth_req_id as string;
}

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;
/** [name, mode] of every file in `dir`, and the names that must be among them. */
function fileModes(dir: string, mustHave: string[]): Array<[string, number]> {
  const names = fs.readdirSync(dir);
  expect(names).toEqual(expect.arrayContaining(mustHave));
  return names.map((name) => [name, modeOf(path.join(dir, name))]);
}
const STATE_FILES = ['keys.json', 'state.json', 'requests.jsonl'];

describe('browser protections', () => {
  let idp: LocalIdp;
  beforeAll(async () => {
    idp = await startIdp();
  });

  test('a foreign Host (DNS rebinding) cannot read or decide on the device API or /dev/*', async () => {
    const { request } = await import('node:http');
    const statusWithHost = (pathname: string, host: string, method = 'GET') =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${idp.issuer}${pathname}`, { method, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    const port = new URL(idp.issuer).port;
    expect(await statusWithHost('/device/requests', `attacker.example:${port}`)).toBe(421);
    expect(await statusWithHost('/dev/log', `attacker.example:${port}`)).toBe(421);
    expect(await statusWithHost('/device/requests/x/approve', `attacker.example:${port}`, 'POST')).toBe(421);
    expect(await statusWithHost('/device/requests', `localhost:${port}`)).toBe(200);
    expect(await statusWithHost('/device/requests', new URL(idp.issuer).host)).toBe(200);
  });

  test('cross-site POSTs to the device API and /dev/* are refused; same-origin and header-less ones pass', async () => {
    const authReqId = await initiate(idp);
    const approve = `${idp.issuer}/device/requests/${authReqId}/approve`;
    const crossSite: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: `${idp.issuer}.evil.example` },
      { 'sec-fetch-site': 'cross-site' },
      { origin: idp.issuer, 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of crossSite) {
      const res = await postJson(approve, undefined, headers);
      expect([headers, res.status, res.body.error]).toEqual([headers, 403, 'forbidden']);
    }
    const evil = { origin: 'https://evil.example' };
    const slowDown = await postJson(`${idp.issuer}/dev/requests/${authReqId}/slow-down`, { count: 1 }, evil);
    expect(slowDown.status).toBe(403);
    const pending = await getJson(`${idp.issuer}/device/requests`);
    expect(pending.map((r: any) => r.auth_req_id)).toContain(authReqId); // nothing was decided

    // The device page's own script (Origin = the issuer) and non-browser clients (no Origin) still work.
    const own = await postJson(approve, undefined, { origin: idp.issuer, 'sec-fetch-site': 'same-origin' });
    expect([own.status, own.body]).toEqual([200, { status: 'approved' }]);
    const port = new URL(idp.issuer).port;
    const other = await initiate(idp);
    const localhost = { origin: `http://localhost:${port}` }; // the device page opened by another name
    const byLocalhost = await postJson(`${idp.issuer}/device/requests/${other}/deny`, undefined, localhost);
    expect(byLocalhost.status).toBe(200);
    const third = await initiate(idp);
    expect((await postJson(`${idp.issuer}/dev/requests/${third}/slow-down`, { count: 1 })).status).toBe(200);
  });

  test('the device page and the other answers cannot be framed', async () => {
    const page = await fetch(`${idp.issuer}/device`);
    expect(page.status).toBe(200);
    await page.text();
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    for (const url of ['/device/requests', '/.well-known/openid-configuration', '/nope'].map((p) => idp.issuer + p)) {
      const res = await fetch(url);
      await res.text();
      expect([url, res.headers.get('x-frame-options'), res.headers.get('content-security-policy')]).toEqual([
        url,
        'DENY',
        "frame-ancestors 'none'",
      ]);
    }
  });
});

test('413 with an OAuth error for an oversized request, with or without Content-Length', async () => {
  const idp = await startIdp();
  const huge = JSON.stringify([{ ...PAYMENT, remittanceInformationUnstructured: 'x'.repeat(200 * 1024) }]);
  const sized = await postForm(`${idp.issuer}/bc-authorize`, {
    scope: 'openid',
    login_hint: 'alice',
    binding_message: 'Big',
    authorization_details: huge,
  });
  expect(sized.status).toBe(413);
  expect(sized.headers.get('content-type')).toMatch(/application\/json/);
  expect(sized.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/too large/) });

  const body = new URLSearchParams({ grant_type: CIBA, auth_req_id: 'x'.repeat(200 * 1024) }).toString();
  const chunked = await fetch(`${idp.issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new Blob([body]).stream(), // streamed: no Content-Length
    duplex: 'half',
  } as RequestInit);
  expect(chunked.status).toBe(413);
  expect(await chunked.json()).toMatchObject({ error: 'invalid_request' });

  const small = { scope: 'openid', login_hint: 'alice', binding_message: 'Small' };
  expect((await postForm(`${idp.issuer}/bc-authorize`, small)).status).toBe(200);
  const log = await getJson(`${idp.issuer}/dev/log`);
  expect(log.map((e: any) => [e.endpoint, e.status])).toEqual([
    ['bc-authorize', 413],
    ['token', 413],
    ['bc-authorize', 200],
  ]);
});

test("no personal data in the provider's output, nor in its request log on disk", async () => {
  const idp = await startIdp();
  const authReqId = await initiate(idp);
  const mallory = { scope: 'openid', login_hint: 'mallory@example.com', binding_message: BINDING };
  const unknown = await postForm(`${idp.issuer}/bc-authorize`, mallory);
  expect(unknown.body.error).toBe('unknown_user_id');
  await getJson(`${idp.issuer}/device/requests?user=alice@example.com`);
  expect((await postJson(`${idp.issuer}/device/requests/${authReqId}/approve`)).status).toBe(200);
  const tokens = await pollUntilDone(idp.issuer, authReqId, 1);
  expect(tokens.body.authorization_details).toEqual([PAYMENT]);
  // The dev-only request log still serves tests the binding message and login hint (from memory).
  const [entry] = await getJson(`${idp.issuer}/dev/log?authReqId=${authReqId}`);
  expect(entry).toMatchObject({ loginHint: 'alice@example.com', bindingMessage: BINDING });

  expect(await idp.stop('SIGTERM')).toBe(0);
  const output = idp.stdout() + idp.stderr();
  expect(output).toContain('auth0|alice'); // the lines are there, naming the user by sub
  for (const secret of ['@example.com', BINDING, 'ExampleCorp', 'Invoice 42']) expect(output).not.toContain(secret);
  const onDisk = fs.readFileSync(path.join(idp.dataDir, 'requests.jsonl'), 'utf8');
  for (const secret of ['@example.com', BINDING, 'ExampleCorp']) expect(onDisk).not.toContain(secret);

  // After a restart the request log still finds the request by its binding message (by digest).
  const again = await startIdp({ IDP_DATA_DIR: idp.dataDir });
  const byMessage = await getJson(`${again.issuer}/dev/log?bindingMessage=${encodeURIComponent(BINDING)}`);
  expect(byMessage.filter((e: any) => e.authReqId === authReqId).length).toBeGreaterThanOrEqual(2);
});

describe('state files are owner-only', () => {
  test('a new data folder is 0700 and its files 0600', async () => {
    const dataDir = path.join(tempDir(), 'nested', 'idp');
    const idp = await startIdp({ IDP_DATA_DIR: dataDir });
    await initiate(idp);
    expect(modeOf(dataDir)).toBe(0o700);
    for (const [name, mode] of fileModes(dataDir, STATE_FILES)) expect([name, mode]).toEqual([name, 0o600]);
    await idp.stop();
  });

  test('wider modes from an older run are narrowed at start; a legacy request log loses its personal data', async () => {
    const first = await startIdp();
    await initiate(first);
    await first.stop();
    const { dataDir } = first;
    fs.writeFileSync(path.join(dataDir, 'left-over.json'), '{}');
    const files = fs.readdirSync(dataDir).map((name) => path.join(dataDir, name));
    const requestLog = path.join(dataDir, 'requests.jsonl');
    // A request log line as older versions wrote it.
    const old = { at: new Date().toISOString(), atMs: Date.now(), endpoint: 'bc-authorize', status: 200 };
    const legacyLine = { ...old, authReqId: 'legacy', loginHint: 'bob@example.com', bindingMessage: 'Old message' };
    fs.appendFileSync(requestLog, `${JSON.stringify(legacyLine)}\n`);
    for (const file of files) fs.chmodSync(file, 0o644);
    fs.chmodSync(dataDir, 0o755);

    const second = await startIdp({ IDP_DATA_DIR: dataDir });
    expect(modeOf(dataDir)).toBe(0o700);
    for (const [name, mode] of fileModes(dataDir, [...STATE_FILES, 'left-over.json'])) {
      expect([name, mode]).toEqual([name, 0o600]);
    }
    expect(fs.readFileSync(requestLog, 'utf8')).not.toMatch(/@example\.com|Old message|Pay 50/);
    const legacy = await getJson(`${second.issuer}/dev/log?bindingMessage=Old%20message`);
    expect(legacy.map((e: any) => e.authReqId)).toEqual(['legacy']);
    await second.stop();
  });
});

test('docker-compose.yml publishes every port on the loopback interface only', () => {
  const compose = fs.readFileSync(path.join(__dirname, '..', 'docker-compose.yml'), 'utf8');
  const published = [...compose.matchAll(/^\s*ports:\s*\[([^\]]*)\]/gm)].flatMap((m) =>
    m[1]!.split(',').map((p) => p.trim()),
  );
  const listed = [...compose.matchAll(/^\s*ports:\s*$((?:\n\s*-\s*.+)+)/gm)].flatMap((m) =>
    m[1]!
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^\s*-\s*/, '').trim()),
  );
  const ports = [...published, ...listed];
  expect(ports.length).toBeGreaterThanOrEqual(3);
  // Quoted (either quote: YAML reads both alike), so that YAML never reads a port mapping as a number.
  for (const port of ports) expect(port).toMatch(/^(["'])127\.0\.0\.1:\d+:\d+\1$/);
});
