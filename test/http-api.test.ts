/**
 * The HTTP API (api/app.ts) on the real stack: a worker on its own task queue, the shared local provider (the user's
 * device through its device API), and the API listening on a free port, called over HTTP as an agent service would.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../api/app';
import { ApprovalIds } from '../api/approval-ids';
import { ApiKeys } from '../api/keys';
import { paymentAuthorizationDetails, type Payment } from '../common/payment';
import { Device, providerLog, sharedStack, uniqueBindingMessage } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row.
jest.setTimeout(3 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('http-api');

interface Key {
  id: string;
  secret: string;
}
const keyA: Key = { id: 'agent-a', secret: randomBytes(24).toString('base64url') };
const keyB: Key = { id: 'agent-b', secret: randomBytes(24).toString('base64url') };

let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  const keys = ApiKeys.fromEntries(`${keyA.id}:${keyA.secret},${keyB.id}:${keyB.secret}`);
  app = await buildApi({ approvals: fixture.approvals, keys });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app?.close());

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

function basic(key: Key): string {
  return `Basic ${Buffer.from(`${key.id}:${key.secret}`).toString('base64')}`;
}

async function call(
  method: string,
  path: string,
  options: { key?: Key; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = basic(options.key);
  let body = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

const payment: Payment = { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' };

function paymentRequest(bindingMessage: string) {
  return {
    loginHint: 'alice@example.com',
    bindingMessage,
    authorizationDetails: paymentAuthorizationDetails(payment),
  };
}

function start(key: Key, idempotencyKey: string, body: unknown): Promise<Answer> {
  return call('POST', '/approvals', { key, body, headers: { 'idempotency-key': idempotencyKey } });
}

const path = (id: string, suffix = '') => `/approvals/${encodeURIComponent(id)}${suffix}`;

/** Waits until the API reports the approval pending at the provider (the user has been asked). */
function waitUntilAsked(key: Key, id: string) {
  return waitUntil(async () => {
    const answer = await call('GET', path(id), { key });
    expect(answer.status).toBe(200);
    return answer.body.approval?.status === 'pending' && answer.body.approval.askCount >= 1 && answer.body;
  }, `approval ${id} pending`);
}

/** Long-polls the result until the approval has ended (a 202 only says the wait ran out first). */
function waitForResult(key: Key, id: string, wait = 30) {
  return waitUntil(async () => {
    const answer = await call('GET', path(id, `/result?wait=${wait}`), { key });
    return answer.status !== 202 && answer;
  }, `result of ${id}`);
}

function expectProblem(answer: Answer, status: number) {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
}

describe('the HTTP API', () => {
  it('starts an approval (201), reports its status, and long-polls its tokens once the user approves; only to its key', async () => {
    const bindingMessage = uniqueBindingMessage('HTTP approve');
    const started = await start(keyA, `approve-${Date.now()}`, paymentRequest(bindingMessage));
    expect(started.status).toBe(201);
    // The API's id: its key, the Idempotency-Key, and a tag only the API can make (api/approval-ids.ts).
    expect(started.body).toEqual({
      id: expect.stringMatching(/^ciba-approval-api\.agent-a\.approve-\d+\.[A-Za-z0-9_-]{22}$/),
      started: true,
    });
    const { id } = started.body as { id: string };
    expect(started.headers.get('location')).toBe(path(id));

    const status = await waitUntilAsked(keyA, id);
    expect(status).toMatchObject({ id, execution: 'RUNNING', approval: { status: 'pending', bindingMessage } });
    expect(JSON.stringify(status)).not.toMatch(/authReqId/);

    // Nobody has decided: the wait runs out, and the answer is the status.
    const pending = await call('GET', path(id, '/result?wait=0'), { key: keyA });
    expect(pending.status).toBe(202);
    expect(pending.body).toMatchObject({ id, approval: { status: 'pending' } });

    const onDevice = await device.waitFor(bindingMessage);
    expect(onDevice.authorization_details).toEqual(paymentAuthorizationDetails(payment));
    const result = waitForResult(keyA, id);
    await device.decide(onDevice.auth_req_id, 'approve');
    const approved = await result;
    expect(approved.status).toBe(200);
    expect(approved.headers.get('cache-control')).toBe('no-store');
    expect(approved.body).toMatchObject({
      id,
      status: 'approved',
      tokenType: 'bearer',
      accessToken: expect.any(String),
      idToken: expect.any(String),
      authorizationDetails: paymentAuthorizationDetails(payment),
      approvedAt: expect.any(String),
    });
    const accessToken = approved.body.accessToken as string;

    const done = await call('GET', path(id), { key: keyA });
    expect(done.body).toMatchObject({ execution: 'COMPLETED', approval: { status: 'approved' } });
    expect(done.text).not.toContain(accessToken);

    // Another key: 403 for everything about this approval, and never its tokens.
    for (const [method, suffix] of [
      ['GET', ''],
      ['GET', '/result?wait=0'],
      ['POST', '/cancel'],
    ] as const) {
      const other = await call(method, path(id, suffix), { key: keyB });
      expectProblem(other, 403);
      expect(other.text).not.toContain(accessToken);
    }
  });

  it('returns the same approval for a retry with the same Idempotency-Key (200, no second request), refuses another body under it (422), and reports a denial as a problem naming ApprovalDenied', async () => {
    const bindingMessage = uniqueBindingMessage('HTTP retry');
    const idempotencyKey = `retry-${Date.now()}`;
    const first = await start(keyA, idempotencyKey, paymentRequest(bindingMessage));
    expect(first.status).toBe(201);
    const { id } = first.body as { id: string };
    const onDevice = await device.waitFor(bindingMessage);

    const retry = await start(keyA, idempotencyKey, paymentRequest(bindingMessage));
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ id, started: false });
    expect(retry.headers.get('location')).toBe(path(id));

    const otherBody = await start(keyA, idempotencyKey, paymentRequest(`${bindingMessage} again`));
    expectProblem(otherBody, 422);
    expect(otherBody.body.type).toBe('urn:ciba-temporal:problem:idempotency-key-reused');

    // The same Idempotency-Key under another API key is another approval.
    const otherKeyMessage = uniqueBindingMessage('HTTP other key');
    const otherKey = await start(keyB, idempotencyKey, paymentRequest(otherKeyMessage));
    expect(otherKey.status).toBe(201);
    expect(otherKey.body.id).not.toBe(id);
    expect((await call('POST', path(otherKey.body.id, '/cancel'), { key: keyB })).status).toBe(202);

    await device.decide(onDevice.auth_req_id, 'deny');
    const denied = await waitForResult(keyA, id);
    expectProblem(denied, 409);
    expect(denied.body).toMatchObject({
      type: 'urn:ciba-temporal:problem:ApprovalDenied',
      failureType: 'ApprovalDenied',
    });

    // A retry after the end is still the same approval; the provider was asked exactly once.
    expect((await start(keyA, idempotencyKey, paymentRequest(bindingMessage))).body).toEqual({ id, started: false });
    const asks = (await providerLog(stack.issuer, { bindingMessage })).filter((e) => e.endpoint === 'bc-authorize');
    expect(asks).toHaveLength(1);
  });

  it('cancels an approval (202); its result is then a problem naming ApprovalCancelled', async () => {
    const bindingMessage = uniqueBindingMessage('HTTP cancel');
    const started = await start(keyA, `cancel-${Date.now()}`, paymentRequest(bindingMessage));
    const { id } = started.body as { id: string };
    await waitUntilAsked(keyA, id);

    const cancelled = await call('POST', path(id, '/cancel'), { key: keyA });
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toEqual({ id, cancellation: 'requested' });

    const result = await waitForResult(keyA, id);
    expectProblem(result, 409);
    expect(result.body).toMatchObject({
      type: 'urn:ciba-temporal:problem:ApprovalCancelled',
      failureType: 'ApprovalCancelled',
    });
    const again = await call('POST', path(id, '/cancel'), { key: keyA });
    expectProblem(again, 409);
  });

  it('answers 401 with WWW-Authenticate without a key or with a wrong one, and 404 for an approval that does not exist', async () => {
    const body = paymentRequest(uniqueBindingMessage('HTTP unauthorized'));
    const wrongSecret = { id: keyA.id, secret: randomBytes(24).toString('base64url') };
    const unknownId = { id: 'nobody', secret: keyA.secret };
    for (const key of [undefined, wrongSecret, unknownId]) {
      const answer = await call('POST', '/approvals', { key, body, headers: { 'idempotency-key': 'x' } });
      expectProblem(answer, 401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm="ciba-approvals"/);
      expectProblem(await call('GET', path('ciba-approval-api.agent-a.x'), { key }), 401);
    }
    const bearer = await call('GET', path('ciba-approval-api.agent-a.x'), {
      headers: { authorization: `Bearer ${keyA.id}:${keyA.secret}` },
    });
    expectProblem(bearer, 401);

    // An id the API would give (its tag verifies), of an approval that was never started.
    const missing = `ciba-approval-${new ApprovalIds(ApiKeys.fromEntries(`${keyA.id}:${keyA.secret}`)).keyFor(keyA.id, 'no-such-approval')}`;
    expectProblem(await call('GET', path(missing), { key: keyA }), 404);
    expectProblem(await call('GET', path(missing, '/result'), { key: keyA }), 404);
    expectProblem(await call('POST', path(missing, '/cancel'), { key: keyA }), 404);
    // Not started through the API (the CLI's ids): not this key's.
    expectProblem(await call('GET', path('ciba-approval-order-4711'), { key: keyA }), 403);
  });

  it('refuses bad requests with problem details naming each offending field', async () => {
    const valid = paymentRequest(uniqueBindingMessage('HTTP invalid'));
    const invalid = async (body: unknown, headers: Record<string, string> = { 'idempotency-key': 'bad' }) => {
      const answer = await call('POST', '/approvals', { key: keyA, body, headers });
      expectProblem(answer, 400);
      expect(answer.body.type).toBe('urn:ciba-temporal:problem:invalid-request');
      return answer.body.errors as { in: string; pointer: string; path: unknown[]; detail: string }[];
    };

    const { bindingMessage: _omitted, ...noBindingMessage } = valid;
    expect(await invalid(noBindingMessage)).toEqual([
      { in: 'body', pointer: '/bindingMessage', path: ['bindingMessage'], detail: expect.any(String) },
    ]);
    expect(await invalid({ ...valid, authorizationDetails: 'payment' })).toEqual([
      {
        in: 'body',
        pointer: '/authorizationDetails',
        path: ['authorizationDetails'],
        detail: 'authorizationDetails must be an array of objects, each with a "type"',
      },
    ]);
    expect(await invalid({ ...valid, authorizationDetails: [{ type: 'payment_initiation' }, { amount: 1 }] })).toEqual([
      expect.objectContaining({ pointer: '/authorizationDetails/1/type', path: ['authorizationDetails', 1, 'type'] }),
    ]);
    const { loginHint: _hint, ...noHint } = valid;
    expect(await invalid(noHint)).toEqual([expect.objectContaining({ pointer: '/loginHint' })]);
    expect(await invalid({ ...valid, unknownField: true })).toEqual([expect.objectContaining({ pointer: '' })]);
    // The provider profile's rule (auth0: letters, digits, spaces, +-_.,:#): refused before anything starts.
    expect(await invalid({ ...valid, bindingMessage: 'Pay 50 € now' })).toEqual([
      expect.objectContaining({ pointer: '/bindingMessage', detail: expect.stringContaining('auth0') }),
    ]);
    expect(await invalid(valid, {})).toEqual([expect.objectContaining({ in: 'header', pointer: '/idempotency-key' })]);
  });

  it("answers Fastify's own errors as problem details: unknown route, wrong content type, bad JSON, body too large", async () => {
    const unknown = await call('GET', '/no/such/route', { key: keyA });
    expectProblem(unknown, 404);

    const headers = { 'idempotency-key': 'media' };
    expectProblem(
      await call('POST', '/approvals', {
        key: keyA,
        rawBody: 'loginHint=alice',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
    );
    expectProblem(
      await call('POST', '/approvals', {
        key: keyA,
        rawBody: '{"bindingMessage": "x"}',
        headers: { ...headers, 'content-type': 'text/plain' },
      }),
      415,
    );
    expectProblem(
      await call('POST', '/approvals', {
        key: keyA,
        rawBody: '{"bindingMessage": ',
        headers: { ...headers, 'content-type': 'application/json' },
      }),
      400,
    );
    const huge = { ...paymentRequest('Pay'), padding: 'x'.repeat(300 * 1024) };
    expectProblem(await call('POST', '/approvals', { key: keyA, body: huge, headers }), 413);

    // Without a key, the approval routes answer 401 before reading the body.
    expectProblem(
      await call('POST', '/approvals', { rawBody: 'x', headers: { ...headers, 'content-type': 'text/plain' } }),
      401,
    );
  });

  it("serves an approval only under an id the API made: a start under its prefix by any other client is not the key's (403)", async () => {
    // A client with the payload key (ApprovalClient, as `ciba` and any agent service have) starts approvals under the
    // API's prefix, naming agent-a: with the old id form (no tag) and with a made-up tag.
    const stamp = Date.now();
    const forged = [`api.agent-a.forged-${stamp}`, `api.agent-a.forged-${stamp}.AAAAAAAAAAAAAAAAAAAAAA`];
    for (const key of forged) {
      const started = await fixture.approvals.start(
        { loginHint: 'alice@example.com', bindingMessage: uniqueBindingMessage('HTTP forged') },
        { key },
      );
      expect(started).toEqual({ workflowId: `ciba-approval-${key}`, started: true });
      for (const [method, suffix] of [
        ['GET', ''],
        ['GET', '/result?wait=0'],
        ['POST', '/cancel'],
      ] as const) {
        const answer = await call(method, path(started.workflowId, suffix), { key: keyA });
        expectProblem(answer, 403);
        expect(answer.body.detail).toBe('this approval was not started with this API key');
      }
      await fixture.approvals.cancel(started.workflowId);
    }

    // The API's own id, with one character of its tag changed, is not the key's either.
    const own = await start(keyA, `tagged-${stamp}`, paymentRequest(uniqueBindingMessage('HTTP tagged')));
    expect(own.status).toBe(201);
    const id = own.body.id as string;
    const tagAt = id.lastIndexOf('.') + 1;
    const tampered = `${id.slice(0, tagAt)}${id[tagAt] === 'A' ? 'B' : 'A'}${id.slice(tagAt + 1)}`;
    expectProblem(await call('GET', path(tampered), { key: keyA }), 403);
    // The same tag bytes spelled otherwise (a last base64url character differing only in its spare bits) is another
    // id: not the key's either.
    const last = id.at(-1)!;
    const alias = `${id.slice(0, -1)}${'AQgw'.includes(last) ? String.fromCharCode(last.charCodeAt(0) + 1) : 'A'}`;
    expectProblem(await call('GET', path(alias), { key: keyA }), 403);
    expect((await call('GET', path(id), { key: keyA })).status).toBe(200);
    expect((await call('POST', path(id, '/cancel'), { key: keyA })).status).toBe(202);
  });

  it('refuses a body that tries to poison a prototype (400, saying so), and says where a body is not JSON without quoting it', async () => {
    const headers = { 'idempotency-key': 'poison', 'content-type': 'application/json' };
    const valid = JSON.stringify(paymentRequest('Pay')).slice(1, -1);
    for (const [rawBody, key, pointer] of [
      [`{"__proto__": {"polluted": true}, ${valid}}`, '__proto__', '/__proto__'],
      [
        `{"constructor": {"prototype": {"polluted": true}}, ${valid}}`,
        'constructor.prototype',
        '/constructor/prototype',
      ],
      [
        `{"loginHint": "alice@example.com", "bindingMessage": "Pay", "authorizationDetails": [{"type": "t", "a": {"__proto__": {"x": 1}}}]}`,
        '__proto__',
        '/authorizationDetails/0/a/__proto__',
      ],
    ] as const) {
      const answer = await call('POST', '/approvals', { key: keyA, rawBody, headers });
      expectProblem(answer, 400);
      expect(answer.body).toMatchObject({
        type: 'urn:ciba-temporal:problem:prototype-poisoning',
        detail: expect.stringContaining(`"${key}" key (at ${pointer}): refused as prototype poisoning`),
      });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const secret = `secret-hint-${Date.now()}`;
    const rawBody = `{"loginHint": "${secret}" "bindingMessage": "Pay"}`;
    const broken = await call('POST', '/approvals', { key: keyA, rawBody, headers });
    expectProblem(broken, 400);
    const at = rawBody.indexOf('"bindingMessage"');
    expect(broken.body.detail).toBe(
      `the body is not valid JSON: expected ',' or '}' at line 1, column ${at + 1} (position ${at})`,
    );
    expect(broken.text).not.toContain(secret);
  });

  it('limits starts per API key (429 problem with Retry-After), each key on its own', async () => {
    const keys = ApiKeys.fromEntries(`${keyA.id}:${keyA.secret},${keyB.id}:${keyB.secret}`);
    const limited = await buildApi({ approvals: fixture.approvals, keys, startsPerMinute: 2 });
    const limitedBase = await limited.listen({ host: '127.0.0.1', port: 0 });
    try {
      // Refused starts count too: these start nothing.
      const post = (key: Key) =>
        fetch(`${limitedBase}/approvals`, {
          method: 'POST',
          headers: { authorization: basic(key), 'idempotency-key': 'limit', 'content-type': 'application/json' },
          body: JSON.stringify({ bindingMessage: 'no hint' }),
        });
      expect((await post(keyA)).status).toBe(400);
      expect((await post(keyA)).status).toBe(400);
      const third = await post(keyA);
      expect(third.status).toBe(429);
      expect(third.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const retryAfter = Number(third.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await third.json()).toMatchObject({
        type: 'urn:ciba-temporal:problem:rate-limited',
        status: 429,
        detail: expect.stringContaining('API key agent-a started more than 2 approvals in a minute'),
      });
      // Another key is not limited by agent-a's starts; reading is not limited at all.
      expect((await post(keyB)).status).toBe(400);
      const read = await fetch(`${limitedBase}/approvals/x`, { headers: { authorization: basic(keyA) } });
      expect(read.status).toBe(403);
    } finally {
      await limited.close();
    }
  });

  it('answers 405 with Allow for a method a path does not take, 404 for a path it does not have', async () => {
    for (const [method, route, allow] of [
      ['DELETE', '/approvals', 'POST'],
      ['GET', '/approvals', 'POST'],
      ['PUT', path('ciba-approval-api.agent-a.x'), 'GET, HEAD'],
      ['DELETE', path('ciba-approval-api.agent-a.x'), 'GET, HEAD'],
      ['GET', path('ciba-approval-api.agent-a.x', '/cancel'), 'POST'],
      ['POST', path('ciba-approval-api.agent-a.x', '/result'), 'GET, HEAD'],
      ['PATCH', '/openapi.json', 'GET, HEAD'],
    ] as const) {
      const answer = await call(method, route, { key: keyA });
      expectProblem(answer, 405);
      expect({ method, route, allow: answer.headers.get('allow') }).toEqual({ method, route, allow });
    }
    expectProblem(await call('GET', '/approvals/x/y/z', { key: keyA }), 404);
  });

  it('refuses identifiers with whitespace around them, a seal, and a wait that is not whole seconds up to the longest', async () => {
    const valid = paymentRequest(uniqueBindingMessage('HTTP trim'));
    for (const [body, pointer] of [
      [{ ...valid, loginHint: ' alice@example.com' }, '/loginHint'],
      [{ ...valid, scope: 'openid\n' }, '/scope'],
      [{ ...valid, acrValues: ['urn:mfa', 'urn:pwd '] }, '/acrValues/1'],
      [{ ...valid, seal: { workflowId: 'x', issuedAt: new Date().toISOString(), requestId: 'r'.repeat(20) } }, '/seal'],
    ] as const) {
      const answer = await start(keyA, `trim-${pointer}`, body);
      expectProblem(answer, 400);
      expect(answer.body.errors).toEqual([expect.objectContaining({ in: 'body', pointer })]);
    }
    for (const wait of ['abc', '-1', '1.5', '61']) {
      const answer = await call('GET', path('ciba-approval-api.agent-a.x', `/result?wait=${wait}`), { key: keyA });
      expectProblem(answer, 400);
      expect(answer.body.errors).toEqual([expect.objectContaining({ in: 'query', pointer: '/wait' })]);
    }
  });

  it('serves its OpenAPI document without a key', async () => {
    const answer = await call('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ openapi: '3.1.0', paths: { '/approvals': expect.any(Object) } });
  });
});
