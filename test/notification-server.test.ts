/**
 * The worker's CIBA ping endpoint (worker/notification-server.ts) over real https on 127.0.0.1, with a certificate
 * from devstack/local-tls.ts and a recording `signal` (no Temporal needed).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Agent, request } from 'undici';
import { mintNotificationToken } from '../common/notification-token';
import { ensureLocalTls } from '../devstack/local-tls';
import {
  MAX_BODY_BYTES,
  signalApproval,
  startNotificationServer,
  type NotificationServer,
  type PingSignal,
} from '../worker/notification-server';

const key = new Uint8Array(randomBytes(32));
const otherKey = new Uint8Array(randomBytes(32));
const WORKFLOW_ID = 'approval-payment-42';
const AUTH_REQ_ID = 'ar-' + randomBytes(24).toString('base64url');

let tmp: string;
let agent: Agent;
let server: NotificationServer;
let signals: Array<[string, string]>;
let signalImpl: PingSignal;
let logs: string[];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'notify-'));
  const tls = await ensureLocalTls(path.join(tmp, 'tls'));
  agent = new Agent({ connect: { ca: tls.ca } });
  server = await startNotificationServer({
    port: 0,
    host: '127.0.0.1',
    tls: { cert: tls.cert, key: tls.key },
    key,
    signal: (workflowId, authReqId) => signalImpl(workflowId, authReqId),
    log: (message) => logs.push(message),
  });
});

beforeEach(() => {
  signals = [];
  logs = [];
  signalImpl = async (workflowId, authReqId) => {
    signals.push([workflowId, authReqId]);
  };
});

afterAll(async () => {
  await agent.close();
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

interface PingOptions {
  token?: string;
  authorization?: string;
  body?: string | Buffer | Readable;
  contentType?: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path?: string;
}

async function ping(options: PingOptions = {}) {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  const authorization = options.authorization ?? (options.token !== undefined ? `Bearer ${options.token}` : undefined);
  if (authorization !== undefined) headers.authorization = authorization;
  const url = new URL(options.path ?? '/ciba/notify', server.url);
  const response = await request(url, {
    method: options.method ?? 'POST',
    headers,
    body: options.method === 'GET' ? undefined : (options.body ?? JSON.stringify({ auth_req_id: AUTH_REQ_ID })),
    dispatcher: agent,
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text };
}

/** `token` with its last character changed. */
function tampered(token: string): string {
  return token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
}

function expectUnauthorized(result: Awaited<ReturnType<typeof ping>>): void {
  expect(result.status).toBe(401);
  expect(result.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  expect(signals).toEqual([]);
}

describe('notification endpoint', () => {
  test('serves https at the advertised URL', () => {
    expect(server.url).toBe(`https://127.0.0.1:${server.port}/ciba/notify`);
  });

  test('a valid ping answers 204 and signals the workflow once', async () => {
    const token = mintNotificationToken(key, WORKFLOW_ID);
    const result = await ping({ token });
    expect(result.status).toBe(204);
    expect(result.text).toBe('');
    expect(signals).toEqual([[WORKFLOW_ID, AUTH_REQ_ID]]);
    // charset parameter and extra fields are fine
    const again = await ping({
      token,
      contentType: 'application/json; charset=UTF-8',
      body: JSON.stringify({ auth_req_id: 'x', other: 1 }),
    });
    expect(again.status).toBe(204);
    expect(signals).toEqual([
      [WORKFLOW_ID, AUTH_REQ_ID],
      [WORKFLOW_ID, 'x'],
    ]);
  });

  test('a wrong token is refused', async () => {
    expectUnauthorized(await ping({ token: 'not-a-token' }));
    expectUnauthorized(await ping({ token: tampered(mintNotificationToken(key, WORKFLOW_ID)) }));
  });

  test('a missing token is refused', async () => {
    expectUnauthorized(await ping());
    expectUnauthorized(await ping({ authorization: '' }));
    expectUnauthorized(await ping({ authorization: 'Bearer' }));
    expectUnauthorized(await ping({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }));
  });

  test('a token minted with another key is refused', async () => {
    expectUnauthorized(await ping({ token: mintNotificationToken(otherKey, WORKFLOW_ID) }));
  });

  test('a token whose workflow ID was changed is refused', async () => {
    const [, nonce, mac] = mintNotificationToken(key, WORKFLOW_ID).split('.');
    const forged = `${Buffer.from('approval-payment-43').toString('base64url')}.${nonce}.${mac}`;
    expectUnauthorized(await ping({ token: forged }));
  });

  test('the token is checked before the body is looked at', async () => {
    expectUnauthorized(await ping({ token: 'x', body: 'not json' }));
    expectUnauthorized(await ping({ body: Buffer.alloc(MAX_BODY_BYTES * 4) }));
  });

  test('bad bodies answer 400 and signal nothing', async () => {
    const token = mintNotificationToken(key, WORKFLOW_ID);
    const bodies = [
      'not json',
      '',
      '{"auth_req_id": 42}',
      '{"auth_req_id": ""}',
      '{}',
      '[]',
      'null',
      '{"auth_req_id": "a\\u0000b"}',
      JSON.stringify({ auth_req_id: 'x'.repeat(5000) }),
      Buffer.from([0x7b, 0xff, 0x7d]), // not UTF-8
    ];
    for (const body of bodies) {
      const result = await ping({ token, body });
      expect(result.status).toBe(400);
    }
    expect(signals).toEqual([]);
  });

  test('a body that is not application/json answers 415', async () => {
    const token = mintNotificationToken(key, WORKFLOW_ID);
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      expect((await ping({ token, contentType })).status).toBe(415);
    }
    expect(signals).toEqual([]);
  });

  test('an oversized body answers 413, with or without Content-Length', async () => {
    const token = mintNotificationToken(key, WORKFLOW_ID);
    const big = JSON.stringify({ auth_req_id: 'x', pad: 'p'.repeat(MAX_BODY_BYTES) });
    expect((await ping({ token, body: big })).status).toBe(413);
    const chunks = [0, 1, 2, 3].map((i) => Buffer.from(big.slice(i * 3000, (i + 1) * 3000)));
    expect((await ping({ token, body: Readable.from(chunks) })).status).toBe(413); // chunked: no Content-Length
    expect(signals).toEqual([]);
    // The endpoint keeps working afterwards.
    expect((await ping({ token })).status).toBe(204);
  });

  test('other methods answer 405, other paths 404', async () => {
    const token = mintNotificationToken(key, WORKFLOW_ID);
    const get = await ping({ token, method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await ping({ token, method: 'PUT' })).status).toBe(405);
    for (const p of ['/', '/ciba/notify/', '/ciba/other', '/CIBA/NOTIFY', '/ciba//notify']) {
      expect((await ping({ token, path: p })).status).toBe(404);
    }
    expect(signals).toEqual([]);
  });

  test('a ping for a workflow that no longer runs still answers 204 (signalApproval swallows not-found)', async () => {
    const sent: unknown[] = [];
    const fakeClient = {
      workflow: {
        getHandle: (workflowId: string) => ({
          signal: async (def: { name: string }, arg: unknown) => {
            sent.push([workflowId, def.name, arg]);
            throw new WorkflowNotFoundError('workflow execution already completed', workflowId, undefined);
          },
        }),
      },
    } as unknown as Client;
    signalImpl = signalApproval(fakeClient);
    const result = await ping({ token: mintNotificationToken(key, 'done-workflow') });
    expect(result.status).toBe(204);
    expect(sent).toEqual([['done-workflow', 'ping', { authReqId: AUTH_REQ_ID }]]);
  });

  test('signalApproval passes other errors on; the endpoint answers 503', async () => {
    const fakeClient = {
      workflow: {
        getHandle: () => ({
          signal: async () => {
            throw new Error('unavailable');
          },
        }),
      },
    } as unknown as Client;
    await expect(signalApproval(fakeClient)('wf', 'x')).rejects.toThrow('unavailable');
    signalImpl = signalApproval(fakeClient);
    expect((await ping({ token: mintNotificationToken(key, WORKFLOW_ID) })).status).toBe(503);
  });

  test('logs name the workflow, never the token or the auth_req_id', async () => {
    const token = mintNotificationToken(key, WORKFLOW_ID);
    await ping({ token });
    await ping({ token: tampered(token) });
    await ping({ token, body: '{}' });
    const text = logs.join('\n');
    expect(logs.length).toBeGreaterThanOrEqual(3);
    expect(text).toContain(WORKFLOW_ID);
    for (const secret of [token, token.split('.')[1]!, token.split('.')[2]!, AUTH_REQ_ID]) {
      expect(text).not.toContain(secret);
    }
  });
});
