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
      askAgain: { maxAsks: 3, delayBetweenAsks: 60, afterLostAnswer: false },
      ungrantedAuthorizationDetails: 'fail',
      continueAsNewAfterEvents: 2_000,
    });
  });

  it('reads durations as seconds or as "90s", "15m", "24h", "3d", up to 30 days', () => {
    const timeout = (approvalTimeout: unknown) =>
      ApprovalRequestSchema.parse({ ...valid, approvalTimeout }).approvalTimeout;
    expect(timeout(90)).toBe(90);
    expect(timeout('90s')).toBe(90);
    expect(timeout('15m')).toBe(900);
    expect(timeout('24h')).toBe(86_400);
    expect(timeout('30d')).toBe(2_592_000);
    expect(errorOf({ ...valid, approvalTimeout: '31d' })).toContain(
      'approvalTimeout must be between 1 second and 30 days',
    );
    expect(errorOf({ ...valid, approvalTimeout: '1 week' })).toContain('approvalTimeout');
    expect(
      ApprovalRequestSchema.parse({ ...valid, askAgain: { maxAsks: 1, delayBetweenAsks: '2m' } }).askAgain,
    ).toEqual({
      maxAsks: 1,
      delayBetweenAsks: 120,
      afterLostAnswer: false,
    });
    expect(errorOf({ ...valid, askAgain: { maxAsks: 0 } })).toContain('askAgain.maxAsks');
  });

  it('accepts its own output again (what continue-as-new hands to the next run)', () => {
    const once = ApprovalRequestSchema.parse({ ...valid, approvalTimeout: '2h', scope: 'email' });
    expect(ApprovalRequestSchema.parse(once)).toEqual(once);
  });

  it('adds openid to a scope without it (CIBA requires it)', () => {
    expect(ApprovalRequestSchema.parse({ ...valid, scope: 'payments offline_access' }).scope).toBe(
      'openid payments offline_access',
    );
    expect(withOpenIdScope('profile openid')).toBe('profile openid');
  });

  it('requires a user hint', () => {
    expect(errorOf({ bindingMessage: 'x' })).toContain('one of loginHint, loginHintToken or idTokenHint is required');
  });

  it('rejects two hints', () => {
    expect(errorOf({ ...valid, idTokenHint: 'eyJ' })).toContain(
      'exactly one of loginHint, loginHintToken or idTokenHint',
    );
  });

  it('applies a printable one-line binding_message rule (the provider profile adds its own, see provider-profile.test.ts)', () => {
    expect(errorOf({ ...valid, bindingMessage: 'x'.repeat(129) })).toContain('bindingMessage');
    expect(errorOf({ ...valid, bindingMessage: '' })).toContain('bindingMessage');
    expect(errorOf({ ...valid, bindingMessage: 'two\nlines' })).toContain('bindingMessage');
    expect(
      ApprovalRequestSchema.parse({ ...valid, bindingMessage: 'Order #12: 3 items, A-B_c.d+e' }).bindingMessage,
    ).toBeTruthy();
  });

  describe('names every bad input (issue 6, item 8)', () => {
    it('a binding message of spaces only', () => {
      expect(errorOf({ ...valid, bindingMessage: '    ' })).toMatch(/^bindingMessage: .*not only spaces/);
    });

    it('a malformed iss_sub login hint', () => {
      expect(errorOf({ ...valid, loginHint: '{"format":"iss_sub","iss":"https://t.auth0.com/"' })).toBe(
        'loginHint: loginHint starts with "{" but is not valid JSON',
      );
      for (const hint of [
        { format: 'iss_sub', iss: 'not a url', sub: 'auth0|1' },
        { format: 'iss_sub', iss: 'https://t.auth0.com/' },
        { format: 'email', iss: 'https://t.auth0.com/', sub: 'auth0|1' },
        { format: 'iss_sub', iss: 'https://t.auth0.com/', sub: ' ' },
      ]) {
        expect(errorOf({ ...valid, loginHint: JSON.stringify(hint) })).toContain(
          '{"format":"iss_sub","iss":"<issuer URL>","sub":"<user id>"}',
        );
      }
      const good = JSON.stringify({ format: 'iss_sub', iss: 'https://t.auth0.com/', sub: 'auth0|1' });
      expect(ApprovalRequestSchema.parse({ ...valid, loginHint: good }).loginHint).toBe(good);
    });

    it.each([['-1h'], ['1.5h'], ['forever'], [-1], [1.5], [true], [null]])('the duration %p', (approvalTimeout) => {
      expect(errorOf({ ...valid, approvalTimeout })).toBe(
        `approvalTimeout: ${JSON.stringify(approvalTimeout)} is not a duration: use whole seconds (a number) or a whole number ` +
          'with s, m, h or d, such as "90s", "15m", "24h", "3d"',
      );
      expect(errorOf({ ...valid, askAgain: { delayBetweenAsks: approvalTimeout } })).toContain(
        'askAgain.delayBetweenAsks: ',
      );
    });

    it('authorization details that JSON cannot carry', () => {
      const cyclic: Record<string, unknown> = { type: 'x' };
      cyclic.self = cyclic;
      const cases: Array<[unknown, RegExp]> = [
        [
          { type: 'x', amount: () => 5 },
          /authorizationDetails\.0\.amount is a function|authorizationDetails\[0\]\.amount is a function/,
        ],
        [{ type: 'x', amount: 5n }, /amount is a bigint/],
        [{ type: 'x', amount: Number.NaN }, /amount is NaN, which JSON cannot carry/],
        [{ type: 'x', at: new Date(0) }, /at is a Date/],
        [{ type: 'x', missing: undefined }, /missing is undefined, which JSON cannot carry/],
        [cyclic, /nested more than 16 levels deep/],
      ];
      for (const [entry, message] of cases)
        expect(errorOf({ ...valid, authorizationDetails: [entry] })).toMatch(message);
    });

    it('authorization details too large for any provider (3 MB)', () => {
      const huge = [{ type: 'x', blob: 'x'.repeat(3_000_000) }];
      expect(errorOf({ ...valid, authorizationDetails: huge })).toMatch(
        /^authorizationDetails: authorizationDetails is 3000\d+ bytes as JSON, more than 65536$/,
      );
    });
  });

  it('requires authorizationDetails to be an array of objects with a type', () => {
    expect(errorOf({ ...valid, authorizationDetails: { type: 'payment_initiation' } })).toContain(
      'authorizationDetails',
    );
    expect(errorOf({ ...valid, authorizationDetails: [{ amount: '5' }] })).toContain('authorizationDetails.0.type');
    expect(errorOf({ ...valid, authorizationDetails: [{ type: '' }] })).toContain('non-empty string "type"');
  });

  it('keeps every member of an authorization details entry', () => {
    const details = [
      {
        type: 'payment_initiation',
        instructedAmount: { currency: 'USD', amount: '50.00' },
        creditorName: 'ExampleCorp',
      },
    ];
    expect(ApprovalRequestSchema.parse({ ...valid, authorizationDetails: details }).authorizationDetails).toEqual(
      details,
    );
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
