import { ApprovalRequestSchema } from '../common/approval';
import {
  authorizationDetailsProblem,
  profileForIssuer,
  profileViolations,
  repeatBindingMessage,
  tokensToRevoke,
  PROVIDER_PROFILES,
} from '../common/provider-profile';

const { generic, auth0, keycloak } = PROVIDER_PROFILES;
const SAMPLE = 'Pay 50.00 USD to ExampleCorp';

describe('binding message rules per provider', () => {
  it('Auth0: letters, digits, spaces and +-_.,:# up to 64; Keycloak: no spaces, up to 50 of -._+/!?#', () => {
    expect(profileViolations(auth0, { bindingMessage: SAMPLE })).toEqual([]);
    expect(profileViolations(keycloak, { bindingMessage: SAMPLE })).toEqual([
      { field: 'bindingMessage', message: expect.stringMatching(/no spaces.*provider profile keycloak/) },
    ]);
    expect(profileViolations(keycloak, { bindingMessage: 'Pay-50.00-USD-to-ExampleCorp' })).toEqual([]);
    expect(profileViolations(auth0, { bindingMessage: 'Pay $50' })).toHaveLength(1);
    expect(profileViolations(generic, { bindingMessage: 'Pay $50 (invoice #12)!' })).toEqual([]);
    expect(profileViolations(keycloak, { bindingMessage: 'x'.repeat(51) })).toHaveLength(1);
    expect(profileViolations(auth0, { bindingMessage: 'x'.repeat(65) })).toHaveLength(1);
  });

  it('refuses a message of spaces only, and control characters, on every profile', () => {
    for (const profile of [generic, auth0, keycloak]) {
      expect(profileViolations(profile, { bindingMessage: '   ' })).toHaveLength(1);
      expect(profileViolations(profile, { bindingMessage: 'line\nbreak' })).toHaveLength(1);
    }
  });

  it('marks a repeat so that it still fits the rule, and refuses a message with no room for the mark', () => {
    expect(repeatBindingMessage(auth0, SAMPLE)).toBe(`Again: ${SAMPLE}`);
    expect(repeatBindingMessage(keycloak, 'Pay-50-USD')).toBe('Again-Pay-50-USD');
    const long = 'x'.repeat(60);
    expect(profileViolations(auth0, { bindingMessage: long })).toEqual([]);
    expect(profileViolations(auth0, { bindingMessage: long }, { repeatable: true })).toEqual([
      { field: 'bindingMessage', message: expect.stringContaining('too long to be marked as a repeat') },
    ]);
  });
});

describe('authorization_details limits', () => {
  const entry = (props: Record<string, unknown> = {}) => ({ type: 'payment_initiation', ...props });
  const nested = (levels: number): unknown => (levels === 0 ? 'leaf' : { next: nested(levels - 1) });

  it("applies Auth0's limits: 5 entries, 10 properties, 255 characters, 5 levels, 5 KB", () => {
    const limits = auth0.authorizationDetails;
    expect(authorizationDetailsProblem([entry()], limits)).toBeUndefined();
    expect(
      authorizationDetailsProblem(
        Array.from({ length: 6 }, () => entry()),
        limits,
      ),
    ).toMatch(/6 entries, more than 5/);
    const props = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`p${i}`, i]));
    expect(authorizationDetailsProblem([entry(props)], limits)).toMatch(/11 properties, more than 10/);
    expect(authorizationDetailsProblem([entry({ note: 'x'.repeat(256) })], limits)).toMatch(/\.note is 256 characters/);
    expect(authorizationDetailsProblem([entry({ ['k'.repeat(256)]: 1 })], limits)).toMatch(/property name of 256/);
    expect(authorizationDetailsProblem([entry({ deep: nested(3) })], limits)).toBeUndefined();
    expect(authorizationDetailsProblem([entry({ deep: nested(9) })], limits)).toMatch(
      /nested 6 levels deep, more than 5/,
    );
    const big = Array.from({ length: 5 }, () =>
      entry(Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [k, k.repeat(250)]))),
    );
    expect(authorizationDetailsProblem(big, limits)).toMatch(/bytes as JSON, more than 5120/);
  });

  it('names the field in the violation', () => {
    const violations = profileViolations(auth0, {
      bindingMessage: SAMPLE,
      authorizationDetails: Array.from({ length: 7 }, () => entry()),
    });
    expect(violations).toEqual([
      {
        field: 'authorizationDetails',
        message: 'authorizationDetails has 7 entries, more than 5 (provider profile auth0)',
      },
    ]);
  });
});

describe('profileForIssuer', () => {
  it('recognises Auth0 tenants and Keycloak realms; anything else is generic', () => {
    expect(profileForIssuer(new URL('https://example.eu.auth0.com/'))).toBe('auth0');
    expect(profileForIssuer(new URL('https://sso.example.com/realms/agents'))).toBe('keycloak');
    expect(profileForIssuer(new URL('http://127.0.0.1:3000'))).toBe('generic');
    expect(profileForIssuer(new URL('https://login.example.com/auth0.com'))).toBe('generic');
  });
});

describe('the request schema and the profiles', () => {
  it("the schema accepts every profile's messages, and Keycloak's sample form", () => {
    for (const bindingMessage of [SAMPLE, 'Pay-50.00-USD-to-ExampleCorp', 'Pay $50 (invoice #12)!']) {
      expect(ApprovalRequestSchema.safeParse({ loginHint: 'alice', bindingMessage }).success).toBe(true);
    }
  });
});

describe('what each provider revokes (RFC 7009) of tokens not handed back', () => {
  const tokens = { accessToken: 'access-1', refreshToken: 'refresh-1' };

  it('generic and Keycloak: the refresh token first, then the access token', () => {
    for (const profile of [generic, keycloak]) {
      expect(tokensToRevoke(profile, tokens)).toEqual({
        revoke: [
          { hint: 'refresh_token', token: 'refresh-1' },
          { hint: 'access_token', token: 'access-1' },
        ],
        left: [],
      });
    }
  });

  it('Auth0: the refresh token only; the access token is left, and said so', () => {
    expect(tokensToRevoke(auth0, tokens)).toEqual({
      revoke: [{ hint: 'refresh_token', token: 'refresh-1' }],
      left: [{ hint: 'access_token', reason: expect.stringMatching(/refresh tokens only.*provider profile auth0/) }],
    });
  });

  it('only what was issued: no refresh token without offline_access, never the ID token', () => {
    expect(tokensToRevoke(generic, { accessToken: 'access-1' }).revoke).toEqual([
      { hint: 'access_token', token: 'access-1' },
    ]);
    expect(tokensToRevoke(auth0, { accessToken: 'access-1' })).toMatchObject({
      revoke: [],
      left: [{ hint: 'access_token' }],
    });
    expect(tokensToRevoke(keycloak, {})).toEqual({ revoke: [], left: [] });
  });
});
