import { ApprovalRequestSchema, formatZodError, withOpenIdScope } from '../common/approval';
import { backchannelParameters } from '../activities/ciba-protocol';

const valid = { loginHint: 'alice@example.com', bindingMessage: 'Pay 50.00 USD to ExampleCorp' };

function errorOf(input: unknown): string {
  const result = ApprovalRequestSchema.safeParse(input);
  if (result.success) throw new Error('expected a validation error');
  return formatZodError(result.error);
}

describe('ApprovalRequestSchema', () => {
  it('accepts a minimal request with defaults: scope openid, a 24 h deadline, up to 3 asks a minute apart', () => {
    expect(ApprovalRequestSchema.parse(valid)).toEqual({
      ...valid,
      scope: 'openid',
      approvalTimeout: 86_400,
      askAgain: { maxAsks: 3, delayBetweenAsks: 60 },
      continueAsNewAfterEvents: 2_000,
    });
  });

  it('reads durations as seconds or as "90s", "15m", "24h", "3d", up to 30 days', () => {
    const timeout = (approvalTimeout: unknown) => ApprovalRequestSchema.parse({ ...valid, approvalTimeout }).approvalTimeout;
    expect(timeout(90)).toBe(90);
    expect(timeout('90s')).toBe(90);
    expect(timeout('15m')).toBe(900);
    expect(timeout('24h')).toBe(86_400);
    expect(timeout('30d')).toBe(2_592_000);
    expect(errorOf({ ...valid, approvalTimeout: '31d' })).toContain('approvalTimeout must be between 1 second and 30 days');
    expect(errorOf({ ...valid, approvalTimeout: '1 week' })).toContain('approvalTimeout');
    expect(ApprovalRequestSchema.parse({ ...valid, askAgain: { maxAsks: 1, delayBetweenAsks: '2m' } }).askAgain).toEqual({
      maxAsks: 1,
      delayBetweenAsks: 120,
    });
    expect(errorOf({ ...valid, askAgain: { maxAsks: 0 } })).toContain('askAgain.maxAsks');
  });

  it('accepts its own output again (what continue-as-new hands to the next run)', () => {
    const once = ApprovalRequestSchema.parse({ ...valid, approvalTimeout: '2h', scope: 'email' });
    expect(ApprovalRequestSchema.parse(once)).toEqual(once);
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
