import { checkGrantedAuthorizationDetails, covers } from '../workflows/granted';
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
