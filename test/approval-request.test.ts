import { ApprovalRequestSchema, formatZodError, withOpenIdScope } from '../common/approval';
import { backchannelParameters } from '../activities/ciba-protocol';

const valid = { loginHint: 'alice@example.com', bindingMessage: 'Pay 50.00 USD to ExampleCorp' };

function errorOf(input: unknown): string {
  const result = ApprovalRequestSchema.safeParse(input);
  if (result.success) throw new Error('expected a validation error');
  return formatZodError(result.error);
}

describe('ApprovalRequestSchema', () => {
  it('accepts a minimal request and defaults the scope to openid', () => {
    expect(ApprovalRequestSchema.parse(valid)).toEqual({ ...valid, scope: 'openid' });
  });

  it('adds openid to a scope without it (CIBA requires it)', () => {
    expect(ApprovalRequestSchema.parse({ ...valid, scope: 'payments offline_access' }).scope).toBe('openid payments offline_access');
    expect(withOpenIdScope('profile openid')).toBe('profile openid');
  });

  it('requires a user hint', () => {
    expect(errorOf({ bindingMessage: 'x' })).toContain('one of loginHint, loginHintToken or idTokenHint is required');
  });

  it('rejects two hints', () => {
    expect(errorOf({ ...valid, idTokenHint: 'eyJ' })).toContain('exactly one of loginHint, loginHintToken or idTokenHint');
  });

  it("applies Auth0's binding_message rule", () => {
    expect(errorOf({ ...valid, bindingMessage: 'Pay $50.00' })).toContain('bindingMessage');
    expect(errorOf({ ...valid, bindingMessage: 'x'.repeat(65) })).toContain('bindingMessage');
    expect(errorOf({ ...valid, bindingMessage: '' })).toContain('bindingMessage');
    expect(ApprovalRequestSchema.parse({ ...valid, bindingMessage: 'Order #12: 3 items, A-B_c.d+e' }).bindingMessage).toBeTruthy();
  });

  it('requires authorizationDetails to be an array of objects with a type', () => {
    expect(errorOf({ ...valid, authorizationDetails: { type: 'payment_initiation' } })).toContain('authorizationDetails');
    expect(errorOf({ ...valid, authorizationDetails: [{ amount: '5' }] })).toContain('authorizationDetails.0.type');
    expect(errorOf({ ...valid, authorizationDetails: [{ type: '' }] })).toContain('non-empty string "type"');
  });

  it('keeps every member of an authorization details entry', () => {
    const details = [{ type: 'payment_initiation', instructedAmount: { currency: 'USD', amount: '50.00' }, creditorName: 'ExampleCorp' }];
    expect(ApprovalRequestSchema.parse({ ...valid, authorizationDetails: details }).authorizationDetails).toEqual(details);
  });

  it('rejects unknown fields (a typo must not be ignored silently)', () => {
    expect(errorOf({ ...valid, bindingMesage: 'typo' })).toContain('bindingMesage');
  });

  it('bounds requestedExpiry to 1..259200 whole seconds', () => {
    expect(errorOf({ ...valid, requestedExpiry: 0 })).toContain('requestedExpiry');
    expect(errorOf({ ...valid, requestedExpiry: 259_201 })).toContain('requestedExpiry');
    expect(errorOf({ ...valid, requestedExpiry: 1.5 })).toContain('requestedExpiry');
  });
});

describe('backchannelParameters', () => {
  it('encodes the request as CIBA form parameters', () => {
    const request = ApprovalRequestSchema.parse({
      ...valid,
      scope: 'payments',
      authorizationDetails: [{ type: 'payment_initiation' }],
      audience: 'https://api.example.com/payments',
      requestedExpiry: 120,
      acrValues: ['urn:mace:incommon:iap:silver', 'mfa'],
    });
    expect(Object.fromEntries(backchannelParameters(request))).toEqual({
      scope: 'openid payments',
      binding_message: 'Pay 50.00 USD to ExampleCorp',
      login_hint: 'alice@example.com',
      authorization_details: '[{"type":"payment_initiation"}]',
      audience: 'https://api.example.com/payments',
      requested_expiry: '120',
      acr_values: 'urn:mace:incommon:iap:silver mfa',
    });
  });
});
