/**
 * revokeAtProvider (activities/revocation.ts) on a scripted provider: what it sends, in which order, what it reports,
 * and that no token ever appears in the report. The real provider's side is test/revocation.test.ts.
 */
import { ProviderError, ProviderUnavailableError, TransportError } from '../activities/ciba-protocol';
import { describeRevocations, revokeAtProvider } from '../activities/revocation';
import { PROVIDER_PROFILES, type RevocableToken } from '../common/provider-profile';

const TOKENS = { accessToken: 'eyJaccess.token.sig', refreshToken: 'refresh-secret-1' };

/** A provider whose revocation_endpoint answers each token as `answer` says (nothing: 200). */
function provider(options: { endpoint?: string; answer?: (token: string) => Error | undefined } = {}) {
  const sent: Array<{ token: string; hint: RevocableToken }> = [];
  return {
    sent,
    ciba: {
      revocationEndpoint: async () => ('endpoint' in options ? options.endpoint : 'https://idp.example/oauth/revoke'),
      revokeToken: async (token: string, hint: RevocableToken) => {
        sent.push({ token, hint });
        const error = options.answer?.(token);
        if (error) throw error;
      },
    },
  };
}

it('sends the refresh token first, then the access token, each with its hint, and reports both revoked', async () => {
  const { ciba, sent } = provider();
  const report = await revokeAtProvider(ciba, PROVIDER_PROFILES.keycloak, TOKENS);
  expect(sent).toEqual([
    { token: TOKENS.refreshToken, hint: 'refresh_token' },
    { token: TOKENS.accessToken, hint: 'access_token' },
  ]);
  expect(report).toEqual([
    { token: 'refresh_token', result: 'revoked' },
    { token: 'access_token', result: 'revoked' },
  ]);
  expect(describeRevocations(report)).toBe('refresh_token revoked, access_token revoked');
});

it('auth0: sends only the refresh token and reports the access token as left, with why', async () => {
  const { ciba, sent } = provider();
  const report = await revokeAtProvider(ciba, PROVIDER_PROFILES.auth0, TOKENS);
  expect(sent.map((s) => s.hint)).toEqual(['refresh_token']);
  expect(report).toEqual([
    { token: 'refresh_token', result: 'revoked' },
    { token: 'access_token', result: 'not_revoked', reason: expect.stringContaining('refresh tokens only') },
  ]);
});

it('a provider without a revocation_endpoint: nothing is sent, and the report says so', async () => {
  const { ciba, sent } = provider({ endpoint: undefined });
  const report = await revokeAtProvider(ciba, PROVIDER_PROFILES.generic, TOKENS);
  expect(sent).toEqual([]);
  expect(report).toEqual([
    { token: 'refresh_token', result: 'not_revoked', reason: expect.stringContaining('no revocation_endpoint') },
    { token: 'access_token', result: 'not_revoked', reason: expect.stringContaining('no revocation_endpoint') },
  ]);
});

it('a refusal is final, a transient fault is marked to be tried again; no token in any reason', async () => {
  const { ciba } = provider({
    answer: (token) =>
      token === TOKENS.refreshToken
        ? new ProviderUnavailableError(503, 2)
        : new ProviderError('unsupported_token_type', `cannot revoke ${token}`, 400), // a provider echoing the token
  });
  const report = await revokeAtProvider(ciba, PROVIDER_PROFILES.generic, TOKENS);
  expect(report).toEqual([
    { token: 'refresh_token', result: 'not_revoked', reason: expect.stringContaining('HTTP 503'), transient: true },
    { token: 'access_token', result: 'not_revoked', reason: 'unsupported_token_type: cannot revoke [token]' },
  ]);
  expect(JSON.stringify(report)).not.toContain(TOKENS.accessToken);
  expect(JSON.stringify(report)).not.toContain(TOKENS.refreshToken);
});

it('discovery that fails (no answer) leaves everything unrevoked, to be tried again', async () => {
  const ciba = {
    revocationEndpoint: async () => {
      throw new TransportError('no answer from the provider: ECONNRESET', true, 'ECONNRESET');
    },
    revokeToken: async () => undefined,
  };
  const report = await revokeAtProvider(ciba, PROVIDER_PROFILES.generic, { accessToken: TOKENS.accessToken });
  expect(report).toEqual([
    {
      token: 'access_token',
      result: 'not_revoked',
      reason: expect.stringContaining('discovery failed'),
      transient: true,
    },
  ]);
});
