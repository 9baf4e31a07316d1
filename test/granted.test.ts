import {
  accessTokenClaim,
  checkGrantedAuthorizationDetails,
  checkGrantedTokens,
  covers,
  sameAuthorizationDetails,
} from '../workflows/granted';
import { grantedAuthorizationDetails } from '../activities/ciba-protocol';

const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'USD', amount: '50.00' },
  creditorName: 'ExampleCorp',
  locations: ['https://example.com/payments'],
};
const ACCOUNT = { type: 'account_information', actions: ['read'] };

describe('checkGrantedAuthorizationDetails', () => {
  it('passes when exactly what was requested is granted, in any order', () => {
    expect(checkGrantedAuthorizationDetails([PAYMENT, ACCOUNT], [ACCOUNT, PAYMENT], 'fail')).toEqual({ ok: true });
  });

  it('passes when nothing was requested, whatever is granted', () => {
    expect(checkGrantedAuthorizationDetails(undefined, undefined, 'fail')).toEqual({ ok: true });
    expect(checkGrantedAuthorizationDetails(undefined, [PAYMENT], 'fail')).toEqual({ ok: true });
  });

  it('fails by default when the provider granted nothing (a provider that ignores RAR), with both lists', () => {
    const check = checkGrantedAuthorizationDetails([PAYMENT], undefined, 'fail');
    expect(check).toEqual({
      ok: false,
      message: expect.stringContaining('granted none of the requested authorization_details'),
      requested: [PAYMENT],
      granted: [],
    });
    expect(checkGrantedAuthorizationDetails([PAYMENT], [], 'fail')).toMatchObject({ ok: false });
  });

  it('accepts an answer that grants nothing only when the request says so', () => {
    expect(checkGrantedAuthorizationDetails([PAYMENT], undefined, 'accept')).toEqual({ ok: true });
  });

  it('fails on a different grant even when ungranted details are accepted', () => {
    const other = { ...PAYMENT, instructedAmount: { currency: 'USD', amount: '5000.00' } };
    expect(checkGrantedAuthorizationDetails([PAYMENT], [other], 'accept')).toMatchObject({
      ok: false,
      message: expect.stringContaining('authorizationDetails[0] (type "payment_initiation")'),
      granted: [other],
    });
  });

  it('fails when one of two requested entries is missing, or more is granted than requested', () => {
    expect(checkGrantedAuthorizationDetails([PAYMENT, ACCOUNT], [PAYMENT], 'fail')).toMatchObject({ ok: false });
    expect(checkGrantedAuthorizationDetails([PAYMENT, PAYMENT], [PAYMENT], 'fail')).toMatchObject({ ok: false });
    expect(checkGrantedAuthorizationDetails([PAYMENT], [PAYMENT, ACCOUNT], 'fail')).toMatchObject({
      ok: false,
      message: expect.stringContaining('not requested (type "account_information")'),
    });
  });

  it('lets a provider add members to a granted entry, but not change or drop any', () => {
    expect(checkGrantedAuthorizationDetails([PAYMENT], [{ ...PAYMENT, paymentId: 'p-1' }], 'fail')).toEqual({
      ok: true,
    });
    const { creditorName: _dropped, ...withoutCreditor } = PAYMENT;
    expect(checkGrantedAuthorizationDetails([PAYMENT], [withoutCreditor], 'fail')).toMatchObject({ ok: false });
    expect(checkGrantedAuthorizationDetails([PAYMENT], [{ ...PAYMENT, locations: [] }], 'fail')).toMatchObject({
      ok: false,
    });
  });
});

describe('covers', () => {
  it('compares arrays element by element and leaves no room for type games', () => {
    expect(covers(['a', 'b'], ['a', 'b'])).toBe(true);
    expect(covers(['a', 'b', 'c'], ['a', 'b'])).toBe(false);
    expect(covers({ amount: 50 }, { amount: '50' })).toBe(false);
    expect(covers([{ a: 1 }], { 0: { a: 1 } })).toBe(false);
    expect(covers(null, {})).toBe(false);
    expect(covers(Object.create({ inherited: 1 }), { inherited: 1 })).toBe(false);
  });
});

describe('grantedAuthorizationDetails', () => {
  const jwt = (claims: object) =>
    ['{"alg":"RS256"}', JSON.stringify(claims), 'sig'].map((p) => Buffer.from(p).toString('base64url')).join('.');

  it('reads the token response first, then a JWT access token claim', () => {
    expect(grantedAuthorizationDetails({ access_token: 'opaque', authorization_details: [PAYMENT] })).toEqual([
      PAYMENT,
    ]);
    expect(grantedAuthorizationDetails({ access_token: jwt({ authorization_details: [PAYMENT] }) })).toEqual([PAYMENT]);
  });

  it('finds nothing in an opaque token, a JWT without the claim, or a malformed JWT', () => {
    expect(grantedAuthorizationDetails({ access_token: 'opaque' })).toBeUndefined();
    expect(grantedAuthorizationDetails({ access_token: jwt({ sub: 'x' }) })).toBeUndefined();
    expect(grantedAuthorizationDetails({ access_token: 'a.%%%.c' })).toBeUndefined();
  });
});

describe('checkGrantedTokens: the JWT access token claim must say what the token response says', () => {
  const jwt = (claims: object) =>
    ['{"alg":"RS256","typ":"at+jwt"}', JSON.stringify(claims), 'sig']
      .map((p) => Buffer.from(p).toString('base64url'))
      .join('.');
  const MORE = { ...PAYMENT, instructedAmount: { currency: 'USD', amount: '5000.00' } };

  it('passes when the claim equals the token response (any entry order, any member order)', () => {
    const { creditorName, ...rest } = PAYMENT;
    const reordered = { creditorName, ...rest }; // the same members, in another order
    const tokens = {
      accessToken: jwt({ authorization_details: [ACCOUNT, reordered] }),
      authorizationDetails: [PAYMENT, ACCOUNT],
    };
    expect(checkGrantedTokens([PAYMENT, ACCOUNT], tokens, 'fail')).toEqual({ ok: true });
  });

  it('fails when the token grants more than the token response says, naming both', () => {
    const tokens = { accessToken: jwt({ authorization_details: [MORE] }), authorizationDetails: [PAYMENT] };
    expect(checkGrantedTokens([PAYMENT], tokens, 'fail')).toEqual({
      ok: false,
      message: expect.stringContaining("access token's authorization_details claim differs"),
      requested: [PAYMENT],
      granted: [PAYMENT],
      grantedInAccessToken: [MORE],
    });
    // The old check (runs recorded before it) reads the token response only.
    expect(checkGrantedTokens([PAYMENT], tokens, 'fail', { compareAccessTokenClaim: false })).toEqual({ ok: true });
  });

  it('fails on a claim with an extra entry, a missing one, a nested member more, or one that is not a list', () => {
    const response = { authorizationDetails: [PAYMENT] };
    const nested = { ...PAYMENT, instructedAmount: { ...PAYMENT.instructedAmount, fee: '1.00' } };
    for (const claim of [[PAYMENT, ACCOUNT], [], [nested], PAYMENT, null]) {
      const tokens = { ...response, accessToken: jwt({ authorization_details: claim }) };
      expect(checkGrantedTokens([PAYMENT], tokens, 'fail')).toMatchObject({ ok: false });
    }
  });

  it('checks the claim even when nothing was requested, and the request when the token has no claim', () => {
    const mismatch = { accessToken: jwt({ authorization_details: [MORE] }), authorizationDetails: [PAYMENT] };
    expect(checkGrantedTokens(undefined, mismatch, 'fail')).toMatchObject({ ok: false });
    expect(checkGrantedTokens([PAYMENT], { accessToken: 'opaque', authorizationDetails: [PAYMENT] }, 'fail')).toEqual({
      ok: true,
    });
    expect(
      checkGrantedTokens([PAYMENT], { accessToken: jwt({ sub: 'x' }), authorizationDetails: [MORE] }, 'fail'),
    ).toMatchObject({ ok: false });
    // Only the claim (no authorization_details in the response: the worker read the claim): nothing to compare it with.
    expect(
      checkGrantedTokens(
        [PAYMENT],
        { accessToken: jwt({ authorization_details: [PAYMENT] }), authorizationDetails: [PAYMENT] },
        'fail',
      ),
    ).toEqual({ ok: true });
  });

  it('a provider without RAR (accepted): a claim that grants something the response does not say fails', () => {
    const tokens = { accessToken: jwt({ authorization_details: [PAYMENT] }) };
    expect(checkGrantedTokens([PAYMENT], tokens, 'accept')).toMatchObject({ ok: false });
    expect(checkGrantedTokens([PAYMENT], { accessToken: jwt({ sub: 'x' }) }, 'accept')).toEqual({ ok: true });
  });
});

describe('accessTokenClaim', () => {
  it('reads a claim of a JWT (UTF-8 included) without Buffer, and nothing of anything else', () => {
    const payload = { authorization_details: [{ type: 'payment_initiation', creditorName: 'Müller & Söhne 💶' }] };
    const token = ['{"alg":"RS256"}', JSON.stringify(payload), 'sig']
      .map((p) => Buffer.from(p).toString('base64url'))
      .join('.');
    expect(accessTokenClaim(token, 'authorization_details')).toEqual({
      present: true,
      value: payload.authorization_details,
    });
    expect(accessTokenClaim(token, 'scope')).toEqual({ present: false });
    expect(accessTokenClaim('opaque-token', 'authorization_details')).toEqual({ present: false });
    expect(accessTokenClaim('a.%%%.c', 'authorization_details')).toEqual({ present: false });
    expect(accessTokenClaim(`a.${Buffer.from('[1]').toString('base64url')}.c`, 'authorization_details')).toEqual({
      present: false,
    });
    expect(accessTokenClaim(`a.${Buffer.from([0xff, 0xfe]).toString('base64url')}.c`, 'x')).toEqual({ present: false });
  });

  it('decodes every length of base64url as Buffer does', () => {
    for (let length = 0; length < 40; length++) {
      const text = JSON.stringify({ v: 'é'.repeat(length) + 'x'.repeat(length % 3) });
      const token = `h.${Buffer.from(text).toString('base64url')}.s`;
      expect(accessTokenClaim(token, 'v')).toEqual({ present: true, value: JSON.parse(text).v });
    }
  });
});

describe('sameAuthorizationDetails', () => {
  it('is equality of two lists of entries, in any order, with no member more or less', () => {
    expect(sameAuthorizationDetails([PAYMENT, ACCOUNT], [ACCOUNT, PAYMENT])).toBe(true);
    expect(sameAuthorizationDetails([PAYMENT, PAYMENT], [PAYMENT, ACCOUNT])).toBe(false);
    expect(sameAuthorizationDetails([{ ...PAYMENT, extra: 1 }], [PAYMENT])).toBe(false);
    expect(sameAuthorizationDetails([PAYMENT], [{ ...PAYMENT, extra: 1 }])).toBe(false);
    expect(sameAuthorizationDetails([{ ...PAYMENT, locations: [...PAYMENT.locations].reverse() }], [PAYMENT])).toBe(
      true,
    );
    expect(sameAuthorizationDetails([{ a: [1, 2] }], [{ a: [2, 1] }])).toBe(false);
    expect(sameAuthorizationDetails([], [])).toBe(true);
    expect(sameAuthorizationDetails({}, [])).toBe(false);
  });
});
