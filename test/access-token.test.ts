/**
 * auth/access-token.ts: which bearer tokens a resource server accepts. Real tokens from the local provider (an at+jwt
 * access token for the codec's API, one for the payments API, an ID token), and hand-made ones for what the provider
 * never issues (other `typ`s, untyped access tokens, ID-token claims, HMAC, expired).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, createRemoteJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import {
  AccessTokenError,
  bearerToken,
  verifyAccessToken,
  wwwAuthenticate,
  type AccessTokenOptions,
} from '../auth/access-token';
import { CODEC_RESOURCE, RESOURCE_SCOPE } from '../provider/provider';
import { startIdp, stopAllIdps, CLIENT_ID, type LocalIdp } from './support/local-idp';
import { approvedTokens, type ProviderTokens } from './support/provider-tokens';

const PAYMENTS = 'https://api.example.com/payments';

/** The error `promise` rejects with, which must be an AccessTokenError. */
async function refusal(promise: Promise<unknown>): Promise<AccessTokenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AccessTokenError);
  return error as AccessTokenError;
}

describe('verifyAccessToken, with tokens of the local provider', () => {
  let idp: LocalIdp;
  let codec: ProviderTokens;
  let payments: ProviderTokens;
  let options: AccessTokenOptions;

  beforeAll(async () => {
    idp = await startIdp();
    codec = await approvedTokens(idp.issuer, { audience: CODEC_RESOURCE, scope: 'openid codec' });
    payments = await approvedTokens(idp.issuer, { audience: PAYMENTS, scope: 'openid payments:write' });
    options = {
      issuer: idp.issuer,
      audience: CODEC_RESOURCE,
      jwks: createRemoteJWKSet(new URL(`${idp.issuer}/.well-known/jwks.json`)),
    };
  });
  afterAll(() => stopAllIdps());

  it('accepts an at+jwt access token for its audience, and returns its claims', async () => {
    const claims = await verifyAccessToken(codec.accessToken, options);
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: CODEC_RESOURCE,
      sub: 'auth0|alice',
      client_id: CLIENT_ID,
      scope: 'codec',
      exp: expect.any(Number),
    });
    await expect(verifyAccessToken(codec.accessToken, { ...options, requiredScopes: ['codec'] })).resolves.toEqual(
      claims,
    );
  });

  it('refuses a token without a required scope: insufficient_scope (403), naming the scopes needed', async () => {
    const error = await refusal(
      verifyAccessToken(codec.accessToken, { ...options, requiredScopes: ['codec', 'admin'] }),
    );
    expect([error.code, error.status, error.scope]).toEqual(['insufficient_scope', 403, 'codec admin']);
    expect(error.description).toBe('the access token lacks scope admin');
  });

  it("refuses an access token for another API (the payments API's): invalid_token", async () => {
    const error = await refusal(verifyAccessToken(payments.accessToken, options));
    expect([error.code, error.status]).toEqual(['invalid_token', 401]);
    expect(error.description).toBe('the access token is for another audience');
    // The same token passes where it belongs: only the audience refused it.
    await expect(verifyAccessToken(payments.accessToken, { ...options, audience: PAYMENTS })).resolves.toMatchObject({
      scope: RESOURCE_SCOPE.split(' ')[0],
    });
  });

  it('refuses an ID token, even for its own audience and with an access-token claim configured', async () => {
    // The ID token's audience is the client: only its type tells it from an access token.
    const asIdToken = { ...options, audience: CLIENT_ID };
    const error = await refusal(verifyAccessToken(codec.idToken, asIdToken));
    expect([error.code, error.description]).toEqual(['invalid_token', 'not an access token (expected typ at+jwt)']);
    const marked = { ...asIdToken, accessTokenClaim: { name: 'scope', value: 'codec' } };
    expect((await refusal(verifyAccessToken(codec.idToken, marked))).code).toBe('invalid_token');
    expect((await refusal(verifyAccessToken(codec.idToken, options))).code).toBe('invalid_token');
  });

  it('refuses a token of another issuer', async () => {
    const error = await refusal(verifyAccessToken(codec.accessToken, { ...options, issuer: 'https://other.example' }));
    expect(error.description).toBe('the access token is from another issuer');
  });

  it('will not verify without an issuer or an audience, nor accept typ JWT as an access token type', async () => {
    await expect(verifyAccessToken(codec.accessToken, { ...options, audience: '' })).rejects.toThrow(TypeError);
    await expect(verifyAccessToken(codec.accessToken, { ...options, audience: [] })).rejects.toThrow(/audience/);
    await expect(verifyAccessToken(codec.accessToken, { ...options, issuer: '' })).rejects.toThrow(/issuer/);
    await expect(verifyAccessToken(codec.accessToken, { ...options, acceptedTypes: ['JWT'] })).rejects.toThrow(
      /accessTokenClaim/,
    );
  });
});

describe('verifyAccessToken, with tokens the local provider never issues', () => {
  const ISSUER = 'https://issuer.example';
  const AUDIENCE = 'https://codec.example';
  let sign: (claims: JWTPayload, header?: { typ?: string; alg?: string }) => Promise<string>;
  let options: AccessTokenOptions;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    options = { issuer: ISSUER, audience: AUDIENCE, jwks: createLocalJWKSet({ keys: [jwk] }) };
    sign = (claims, header = { typ: 'at+jwt' }) => {
      const jwt = new SignJWT({ sub: 'alice', ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...(header.typ && { typ: header.typ }) })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt();
      if (!('exp' in claims)) jwt.setExpirationTime('5m');
      return jwt.sign(privateKey);
    };
  });

  it.each(['at+jwt', 'application/at+jwt', 'AT+JWT'])(
    'accepts typ %s (RFC 9068; media types ignore case)',
    async (typ) => {
      await expect(verifyAccessToken(await sign({}, { typ }), options)).resolves.toMatchObject({ sub: 'alice' });
    },
  );

  it('refuses a token typed JWT or untyped, unless it carries the configured access-token claim', async () => {
    const marked = { ...options, accessTokenClaim: { name: 'token_use', value: 'access' } };
    for (const typ of ['JWT', undefined]) {
      const access = await sign({ token_use: 'access' }, { typ });
      expect((await refusal(verifyAccessToken(access, options))).description).toBe(
        'not an access token (expected typ at+jwt)',
      );
      await expect(verifyAccessToken(access, marked)).resolves.toMatchObject({ token_use: 'access' });
      const id = await sign({ token_use: 'id', auth_time: 1 }, { typ });
      expect((await refusal(verifyAccessToken(id, marked))).code).toBe('invalid_token');
    }
    const roles = { ...options, accessTokenClaim: { name: 'scope', value: 'codec' } };
    await expect(verifyAccessToken(await sign({ scope: 'read codec' }, { typ: 'JWT' }), roles)).resolves.toBeDefined();
    await refusal(verifyAccessToken(await sign({ scope: 'codecs' }, { typ: 'JWT' }), roles));
  });

  it('refuses any claim-marked token that has ID-token claims, and any typ but at+jwt and JWT', async () => {
    const marked = { ...options, accessTokenClaim: { name: 'token_use', value: 'access' } };
    for (const claim of ['nonce', 'at_hash', 'c_hash', 'urn:openid:params:jwt:claim:auth_req_id']) {
      for (const typ of ['JWT', 'at+jwt']) {
        const error = await refusal(
          verifyAccessToken(await sign({ token_use: 'access', [claim]: 'x' }, { typ }), marked),
        );
        expect(error.description).toBe(`an ID token is not an access token (it has the ${claim} claim)`);
      }
    }
    for (const typ of ['logout+jwt', 'dpop+jwt', 'secevent+jwt']) {
      const error = await refusal(verifyAccessToken(await sign({ token_use: 'access' }, { typ }), marked));
      expect(error.description).toBe(`a JWT of type ${typ} is not an access token`);
    }
  });

  it('refuses an expired token, one without exp, one signed with HMAC, and what is not a JWT', async () => {
    const expired = await sign({ exp: Math.floor(Date.now() / 1000) - 3600 });
    expect((await refusal(verifyAccessToken(expired, options))).description).toBe('the access token expired');
    const noExp = await sign({ exp: undefined });
    expect((await refusal(verifyAccessToken(noExp, options))).description).toBe(
      'the access token has no valid expiry (exp)',
    );
    const hmac = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'));
    expect((await refusal(verifyAccessToken(hmac, options))).description).toBe(
      'the access token is signed with an algorithm that is not accepted',
    );
    expect((await refusal(verifyAccessToken('opaque-token', options))).description).toBe(
      'the access token is not a signed JWT',
    );
  });

  it('fails with another error (not invalid_token) when the key set cannot be fetched', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/jwks.json`));
    const error = await verifyAccessToken(await sign({}), { ...options, jwks }).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(AccessTokenError);
    expect((error as Error).name).toMatch(/Error$/); // fetch's TypeError, from another realm than the test's
  });
});

describe('bearerToken', () => {
  it('reads the token of a Bearer authorization (any case of the scheme), and nothing else', () => {
    expect(bearerToken('Bearer abc.DEF-_~+/=')).toBe('abc.DEF-_~+/=');
    expect(bearerToken('bearer  abc')).toBe('abc');
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Basic YTpi')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken('Bearer a"b')).toBeUndefined();
  });
});

describe('wwwAuthenticate', () => {
  it('says Bearer, with the realm and no error when the request had no token', () => {
    expect(wwwAuthenticate()).toBe('Bearer');
    expect(wwwAuthenticate({ realm: 'temporal-codec' })).toBe('Bearer realm="temporal-codec"');
  });

  it('names the error, its description, the scope needed and the resource metadata (RFC 9728)', () => {
    const expired = new AccessTokenError('invalid_token', 'the access token expired');
    expect(
      wwwAuthenticate({
        realm: 'mcp',
        error: expired,
        resourceMetadata: new URL('https://mcp.example/.well-known/oauth-protected-resource'),
      }),
    ).toBe(
      'Bearer realm="mcp", error="invalid_token", error_description="the access token expired", ' +
        'resource_metadata="https://mcp.example/.well-known/oauth-protected-resource"',
    );
    const scope = new AccessTokenError('insufficient_scope', 'the access token lacks scope b', { scope: 'a b' });
    expect(wwwAuthenticate({ error: scope })).toBe(
      'Bearer error="insufficient_scope", error_description="the access token lacks scope b", scope="a b"',
    );
  });

  it('keeps every value a valid quoted-string: no quote, backslash or control character gets through', () => {
    const header = wwwAuthenticate({ error: { code: 'invalid_token', description: 'a "b" \\ c\r\nSet-Cookie: x' } });
    expect(header).toBe('Bearer error="invalid_token", error_description="a \'b\'  cSet-Cookie: x"');
  });
});
