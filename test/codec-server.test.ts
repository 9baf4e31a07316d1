/**
 * The codec server over real HTTP: what it refuses (Origin, Host, size, route, /encode unless enabled, token) and what
 * it serves. jwt mode with real tokens of the local provider: its API urn:ciba-temporal:codec, the payments API, and
 * ID tokens.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter, type PayloadCodec } from '@temporalio/common';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { ConfigError, temporalSettings } from '../common/config';
import {
  ENCODE_DISABLED,
  startCodecServer,
  type CodecServerOptions,
  type RunningCodecServer,
} from '../devstack/codec-server';
import { encodeEnabled, loadCodecServerConfig } from '../devstack/codec-server-config';
import { CODEC_RESOURCE } from '../provider/provider';
import { CLIENT_ID, startIdp, stopAllIdps, type LocalIdp } from './support/local-idp';
import { approvedTokens, type ProviderTokens } from './support/provider-tokens';

const UI = 'http://127.0.0.1:8233';
const codec: PayloadCodec = temporalSettings({ CIBA_PAYLOAD_KEY: randomBytes(32).toString('base64') }).dataConverter
  .payloadCodecs![0]!;
const secret = { accessToken: 'eyJhbGciOi.secret' };

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: { payloads?: Array<{ metadata?: Record<string, string>; data?: string }>; error?: string };
}

/** One request with exactly the headers given (fetch would not let us set Host, nor leave out its own). */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, headers: res.headers, json: text ? JSON.parse(text) : {} });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const toJSON = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

async function encodedBody(): Promise<string> {
  const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(secret)]);
  return JSON.stringify({ payloads: [toJSON(encoded!)] });
}

const decodeWith = async (server: RunningCodecServer, headers: Record<string, string>) =>
  send(`${server.url}/decode`, 'POST', { 'content-type': 'application/json', ...headers }, await encodedBody());

const servers: RunningCodecServer[] = [];
async function start(options: Partial<CodecServerOptions> = {}): Promise<RunningCodecServer> {
  const server = await startCodecServer(codec, { auth: { mode: 'local' }, uiOrigins: [UI], ...options });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const plainBody = () => JSON.stringify({ payloads: [toJSON(defaultPayloadConverter.toPayload(secret))] });

describe('codec server, local mode', () => {
  it('decodes an encoded payload for the allowed Origin (with the query the UI adds)', async () => {
    const server = await start();
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(secret)]);
    const body = JSON.stringify({ payloads: [toJSON(encoded!)] });
    const answer = await send(`${server.url}/decode?preserveStorageRefs=true`, 'POST', { origin: UI }, body);
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBe(UI);
    expect(answer.headers.vary).toBe('Origin'); // the answer depends on Origin: caches must not share it
    expect(JSON.parse(Buffer.from(answer.json.payloads![0]!.data!, 'base64').toString())).toEqual(secret);
  });

  it('refuses /encode by default with 403, saying how to turn it on; /decode still answers', async () => {
    const server = await start();
    const answer = await send(`${server.url}/encode`, 'POST', { origin: UI }, plainBody());
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({ error: ENCODE_DISABLED });
    expect(answer.json.error).toContain('CODEC_SERVER_ENCODE=true');
    expect(answer.headers['access-control-allow-origin']).toBe(UI); // the UI can read why
    expect((await decodeWith(server, { origin: UI })).status).toBe(200);
    // Started as codec-server-main.ts starts it, from an environment without CODEC_SERVER_ENCODE: also refused.
    const configured = await start(loadCodecServerConfig({ CODEC_SERVER_UI_ORIGIN: UI, CODEC_SERVER_PORT: '0' }));
    expect((await send(`${configured.url}/encode`, 'POST', { origin: UI }, plainBody())).status).toBe(403);
  });

  it('encodes when enabled (CODEC_SERVER_ENCODE=true): a payload the codec decrypts, nothing in clear', async () => {
    const server = await start(
      loadCodecServerConfig({ CODEC_SERVER_UI_ORIGIN: UI, CODEC_SERVER_PORT: '0', CODEC_SERVER_ENCODE: 'true' }),
    );
    const answer = await send(`${server.url}/encode`, 'POST', { origin: UI }, plainBody());
    expect(answer.status).toBe(200);
    const encoded = answer.json.payloads![0]!;
    expect(Buffer.from(encoded.data!, 'base64').includes('secret')).toBe(false);
    const [decoded] = await codec.decode([
      {
        metadata: Object.fromEntries(Object.entries(encoded.metadata!).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        data: Buffer.from(encoded.data!, 'base64'),
      },
    ]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(secret);
  });

  it("answers the CORS preflight of the UI's origin, and no other", async () => {
    const server = await start();
    const preflight = (origin: string) =>
      send(`${server.url}/decode`, 'OPTIONS', {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      });
    const allowed = await preflight(UI);
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(UI);
    expect(allowed.headers['access-control-allow-headers']).toBe('content-type,x-namespace');
    const other = await preflight('http://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses another Origin with 403', async () => {
    const answer = await decodeWith(await start(), { origin: 'http://evil.example' });
    expect(answer.status).toBe(403);
    expect(answer.json.payloads).toBeUndefined();
  });

  it('refuses a request without Origin with 403 (browsers always send it on POST)', async () => {
    const answer = await decodeWith(await start(), {});
    expect(answer.status).toBe(403);
    expect(answer.json.payloads).toBeUndefined();
  });

  it('refuses a Host that is not its own (DNS rebinding) with 421, even with the right Origin', async () => {
    const server = await start();
    const { port } = new URL(server.url);
    expect((await decodeWith(server, { origin: UI, host: `rebind.evil.example:${port}` })).status).toBe(421);
    expect((await decodeWith(server, { origin: UI, host: `localhost:${port}` })).status).toBe(200);
  });

  it('refuses a body over the limit by its Content-Length with 413', async () => {
    const server = await start({ maxBodyBytes: 4096 });
    const answer = await send(
      `${server.url}/decode`,
      'POST',
      { origin: UI },
      JSON.stringify({ payloads: [{ data: 'A'.repeat(8192) }] }),
    );
    expect(answer.status).toBe(413);
  });

  it('stops reading a body without Content-Length at the limit: 413 while the client is still sending', async () => {
    const server = await start({ maxBodyBytes: 4096 });
    // A chunked body of 64 MiB, written only as fast as the server reads (backpressure): a server that stops
    // reading answers long before the end, since socket buffers hold a few MiB at most.
    const total = 64 * 1024 * 1024;
    const answer = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      let sent = 0;
      const req = http.request(
        `${server.url}/decode`,
        { method: 'POST', headers: { origin: UI }, agent: false },
        (res) => {
          resolve({ status: res.statusCode!, sent });
          req.destroy();
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 'A');
      const pump = () => {
        while (!req.destroyed && sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return;
        }
        if (!req.destroyed) req.end();
      };
      req.on('drain', pump);
      pump();
    });
    expect(answer.status).toBe(413);
    expect(answer.sent).toBeLessThan(total);
  });

  it('answers only POST /decode and POST /encode', async () => {
    const server = await start();
    const body = await encodedBody();
    expect((await send(`${server.url}/decode`, 'GET', { origin: UI })).status).toBe(405);
    expect((await send(`${server.url}/decode`, 'PUT', { origin: UI }, body)).status).toBe(405);
    expect((await send(`${server.url}/`, 'GET', { origin: UI })).status).toBe(404);
    expect((await send(`${server.url}/decrypt`, 'POST', { origin: UI }, body)).status).toBe(404);
  });

  it('still checks Origin and Host on a refused /encode', async () => {
    const server = await start();
    expect((await send(`${server.url}/encode`, 'POST', { origin: 'http://evil.example' }, plainBody())).status).toBe(
      403,
    );
    const host = `rebind.evil.example:${new URL(server.url).port}`;
    expect((await send(`${server.url}/encode`, 'POST', { origin: UI, host }, plainBody())).status).toBe(421);
  });

  it('refuses to listen on a non-loopback address in local mode', async () => {
    await expect(start({ host: '0.0.0.0', allowedHosts: ['codec.example.com'] })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0/,
    );
    expect(() => loadCodecServerConfig({ CODEC_SERVER_UI_ORIGIN: UI, CODEC_SERVER_HOST: '192.0.2.10' })).toThrow(
      /CODEC_SERVER_HOST: .*CODEC_SERVER_AUTH=jwt/,
    );
  });
});

describe('codec server, jwt mode', () => {
  const AUDIENCE = 'temporal-ui';
  let issuer: string;
  let jwksServer: http.Server;
  let key: CryptoKey;
  let otherKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    // The JWKS a real issuer publishes: here the public half of `key`, served over local HTTP.
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = http.createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  const startJwt = () =>
    start(
      loadCodecServerConfig({
        CODEC_SERVER_AUTH: 'jwt',
        CODEC_SERVER_PORT: '0',
        CODEC_SERVER_UI_ORIGIN: UI,
        CODEC_SERVER_JWT_ISSUER: issuer,
        CODEC_SERVER_JWKS_URL: `${issuer}.well-known/jwks.json`,
        CODEC_SERVER_JWT_AUDIENCE: AUDIENCE,
      }),
    );
  const token = (claims: { iss?: string; aud?: string; exp?: number } = {}, signWith: CryptoKey = key) =>
    new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '5m')
      .sign(signWith);

  it('decodes for a valid access token signed by a key from the JWKS, and only with it', async () => {
    const server = await startJwt();
    const answer = await decodeWith(server, { origin: UI, authorization: `Bearer ${await token()}` });
    expect(answer.status).toBe(200);
    expect(JSON.parse(Buffer.from(answer.json.payloads![0]!.data!, 'base64').toString())).toEqual(secret);
    expect((await decodeWith(server, { origin: UI })).status).toBe(401);
  });

  it('refuses a request without token: 401 with WWW-Authenticate: Bearer', async () => {
    const answer = await decodeWith(await startJwt(), { origin: UI });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(answer.json.payloads).toBeUndefined();
  });

  it.each([
    ['from another issuer', () => token({ iss: 'https://other-issuer.example/' })],
    ['for another audience', () => token({ aud: 'another-api' })],
    ['expired an hour ago', () => token({ exp: Math.floor(Date.now() / 1000) - 3600 })],
    ['with a wrong signature (same kid, another key)', () => token({}, otherKey)],
    ['that is not a JWT', async () => 'opaque-access-token'],
  ])('refuses a token %s: 401 invalid_token', async (_name, make) => {
    const answer = await decodeWith(await startJwt(), { origin: UI, authorization: `Bearer ${await make()}` });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    expect(answer.json.payloads).toBeUndefined();
  });

  it('still checks Origin and Host with a valid token', async () => {
    const server = await startJwt();
    const authorization = `Bearer ${await token()}`;
    expect((await decodeWith(server, { authorization })).status).toBe(403);
    const host = `rebind.evil.example:${new URL(server.url).port}`;
    expect((await decodeWith(server, { origin: UI, authorization, host })).status).toBe(421);
  });

  it('answers 503 (not 401) when the issuer keys cannot be fetched', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const jwksUrl = new URL(`http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`);
    await new Promise<void>((resolve) => closed.close(() => resolve())); // nothing listens there now
    const server = await start({ auth: { mode: 'jwt', issuer, jwksUrl, audience: AUDIENCE } });
    const answer = await decodeWith(server, { origin: UI, authorization: `Bearer ${await token()}` });
    expect(answer.status).toBe(503);
    expect(answer.json.payloads).toBeUndefined();
  });
});

describe("codec server, jwt mode with the local provider's tokens", () => {
  let idp: LocalIdp;
  /** Alice's tokens for the codec's API (urn:ciba-temporal:codec, scope codec), and for the payments API. */
  let forCodec: ProviderTokens;
  let forPayments: ProviderTokens;

  beforeAll(async () => {
    idp = await startIdp();
    forCodec = await approvedTokens(idp.issuer, { audience: CODEC_RESOURCE, scope: 'openid codec' });
    forPayments = await approvedTokens(idp.issuer, {
      audience: 'https://api.example.com/payments',
      scope: 'openid payments:write',
    });
  });
  afterAll(() => stopAllIdps());

  const startJwt = (env: Record<string, string> = {}) =>
    start(
      loadCodecServerConfig({
        CODEC_SERVER_AUTH: 'jwt',
        CODEC_SERVER_PORT: '0',
        CODEC_SERVER_UI_ORIGIN: UI,
        CODEC_SERVER_JWT_ISSUER: idp.issuer,
        CODEC_SERVER_JWKS_URL: `${idp.issuer}/.well-known/jwks.json`,
        CODEC_SERVER_JWT_AUDIENCE: CODEC_RESOURCE,
        ...env,
      }),
    );
  const bearer = (token: string) => ({ origin: UI, authorization: `Bearer ${token}` });

  it('decodes for an at+jwt access token for its audience', async () => {
    const answer = await decodeWith(await startJwt(), bearer(forCodec.accessToken));
    expect(answer.status).toBe(200);
    expect(JSON.parse(Buffer.from(answer.json.payloads![0]!.data!, 'base64').toString())).toEqual(secret);
  });

  it("refuses the agent's access token for another API (the payments API): 401 invalid_token", async () => {
    const answer = await decodeWith(await startJwt(), bearer(forPayments.accessToken));
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe(
      'Bearer realm="temporal-codec", error="invalid_token", error_description="the access token is for another audience"',
    );
    expect(answer.json.payloads).toBeUndefined();
  });

  it('refuses ID tokens: 401 invalid_token, even when the audience is the one the ID token names', async () => {
    for (const server of [await startJwt(), await startJwt({ CODEC_SERVER_JWT_AUDIENCE: CLIENT_ID })]) {
      for (const idToken of [forCodec.idToken, forPayments.idToken]) {
        const answer = await decodeWith(server, bearer(idToken));
        expect(answer.status).toBe(401);
        expect(answer.headers['www-authenticate']).toMatch(/error="invalid_token"/);
        expect(answer.json.payloads).toBeUndefined();
      }
    }
    // The ID token's audience (the client) with an access-token claim configured: it carries no scope, so no.
    const marked = await startJwt({
      CODEC_SERVER_JWT_AUDIENCE: CLIENT_ID,
      CODEC_SERVER_JWT_ACCESS_TOKEN_CLAIM: 'scope=codec',
    });
    expect((await decodeWith(marked, bearer(forCodec.idToken))).status).toBe(401);
  });

  it('checks required scopes: 403 insufficient_scope without them', async () => {
    const scoped = await startJwt({ CODEC_SERVER_JWT_REQUIRED_SCOPES: 'codec' });
    expect((await decodeWith(scoped, bearer(forCodec.accessToken))).status).toBe(200);
    const more = await startJwt({ CODEC_SERVER_JWT_REQUIRED_SCOPES: 'codec,codec:admin' });
    const answer = await decodeWith(more, bearer(forCodec.accessToken));
    expect(answer.status).toBe(403);
    expect(answer.headers['www-authenticate']).toMatch(/error="insufficient_scope".*scope="codec codec:admin"/);
  });

  it('refuses /encode with a valid token unless enabled', async () => {
    const encodeWith = async (server: RunningCodecServer) =>
      send(`${server.url}/encode`, 'POST', bearer(forCodec.accessToken), plainBody());
    const refused = await encodeWith(await startJwt());
    expect([refused.status, refused.json.error]).toEqual([403, ENCODE_DISABLED]);
    expect((await encodeWith(await startJwt({ CODEC_SERVER_ENCODE: 'true' }))).status).toBe(200);
  });
});

describe('codec server configuration', () => {
  it('reads defaults: local mode on 127.0.0.1:8234, 1 MiB, /encode off', () => {
    expect(loadCodecServerConfig({ CODEC_SERVER_UI_ORIGIN: `${UI}/` })).toEqual({
      auth: { mode: 'local' },
      uiOrigins: [UI],
      host: '127.0.0.1',
      port: 8234,
      allowedHosts: [],
      maxBodyBytes: 1024 * 1024,
      encode: false,
    });
  });

  it('turns /encode on only for CODEC_SERVER_ENCODE=true', () => {
    const encode = (value?: string) =>
      loadCodecServerConfig({ CODEC_SERVER_UI_ORIGIN: UI, CODEC_SERVER_ENCODE: value }).encode;
    expect([encode(), encode(''), encode('false'), encode('true')]).toEqual([false, false, false, true]);
    expect([encodeEnabled({}), encodeEnabled({ CODEC_SERVER_ENCODE: 'true' })]).toEqual([false, true]);
    expect(() => encodeEnabled({ CODEC_SERVER_ENCODE: 'yes please' })).toThrow(/CODEC_SERVER_ENCODE/);
  });

  it('refuses jwt mode without an audience, saying what to set', async () => {
    const jwt = {
      CODEC_SERVER_AUTH: 'jwt',
      CODEC_SERVER_UI_ORIGIN: UI,
      CODEC_SERVER_JWT_ISSUER: 'https://issuer.example/',
      CODEC_SERVER_JWKS_URL: 'https://issuer.example/jwks.json',
    };
    for (const audience of [undefined, '', '  ']) {
      expect(() => loadCodecServerConfig({ ...jwt, CODEC_SERVER_JWT_AUDIENCE: audience })).toThrow(
        /CODEC_SERVER_JWT_AUDIENCE: required in jwt mode/,
      );
    }
    const auth = { mode: 'jwt', issuer: jwt.CODEC_SERVER_JWT_ISSUER, jwksUrl: new URL(jwt.CODEC_SERVER_JWKS_URL) };
    await expect(start({ auth: { ...auth, audience: '' } as CodecServerOptions['auth'] })).rejects.toThrow(
      /CODEC_SERVER_JWT_AUDIENCE/,
    );
    expect(
      loadCodecServerConfig({
        ...jwt,
        CODEC_SERVER_JWT_AUDIENCE: 'https://temporal.example.com/api',
        CODEC_SERVER_JWT_ACCESS_TOKEN_CLAIM: 'token_use=access',
        CODEC_SERVER_JWT_REQUIRED_SCOPES: 'codec  codec:read',
      }).auth,
    ).toEqual({
      ...auth,
      audience: 'https://temporal.example.com/api',
      accessTokenClaim: { name: 'token_use', value: 'access' },
      requiredScopes: ['codec', 'codec:read'],
    });
  });

  it('names every offending variable', () => {
    const error = (() => {
      try {
        loadCodecServerConfig({
          CODEC_SERVER_AUTH: 'jwt',
          CODEC_SERVER_UI_ORIGIN: 'https://ui.example/path',
          CODEC_SERVER_JWKS_URL: 'http://idp.example/jwks',
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const names = [
      'CODEC_SERVER_UI_ORIGIN',
      'CODEC_SERVER_JWT_ISSUER',
      'CODEC_SERVER_JWKS_URL',
      'CODEC_SERVER_JWT_AUDIENCE',
    ];
    for (const name of names) {
      expect((error as Error).message).toContain(name);
    }
  });
});
