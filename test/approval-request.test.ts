import fc from 'fast-check';
import { z } from 'zod';

import {
  ApprovalRequestSchema,
  formatZodError,
  legacyApprovalRequestSchema,
  MAX_ACR_VALUE_LENGTH,
  MAX_ACR_VALUES,
  MAX_ASKS,
  MAX_AUDIENCE_LENGTH,
  MAX_HINT_TOKEN_LENGTH,
  MAX_LOGIN_HINT_LENGTH,
  MAX_SCOPE_LENGTH,
  MIN_DELAY_BETWEEN_ASKS_SECONDS,
  MIN_REQUESTED_EXPIRY_SECONDS,
  withOpenIdScope,
} from '../common/approval';
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

  it('bounds requestedExpiry to 10..259200 whole seconds', () => {
    expect(errorOf({ ...valid, requestedExpiry: 0 })).toContain('requestedExpiry');
    expect(errorOf({ ...valid, requestedExpiry: 259_201 })).toContain('requestedExpiry');
    expect(errorOf({ ...valid, requestedExpiry: 1.5 })).toContain('requestedExpiry');
    expect(errorOf({ ...valid, requestedExpiry: 9 })).toBe(
      'requestedExpiry: requestedExpiry must be at least 10 seconds, time for the user to read the request',
    );
    expect(
      ApprovalRequestSchema.parse({ ...valid, requestedExpiry: MIN_REQUESTED_EXPIRY_SECONDS }).requestedExpiry,
    ).toBe(10);
    expect(ApprovalRequestSchema.parse({ ...valid, requestedExpiry: 259_200 }).requestedExpiry).toBe(259_200);
  });

  describe('bounds asking (a flood of asks is how MFA fatigue works)', () => {
    it('at most 10 asks', () => {
      expect(ApprovalRequestSchema.parse({ ...valid, askAgain: { maxAsks: MAX_ASKS } }).askAgain.maxAsks).toBe(10);
      expect(errorOf({ ...valid, askAgain: { maxAsks: 11 } })).toBe(
        'askAgain.maxAsks: askAgain.maxAsks must be at most 10: every ask notifies the user (wait longer with ' +
          'requestedExpiry or delayBetweenAsks instead)',
      );
      expect(errorOf({ ...valid, askAgain: { maxAsks: 10_000 } })).toContain('askAgain.maxAsks');
    });

    it('at least 5 s between asks, in either form of a duration; the default stays 60 s', () => {
      const delay = (delayBetweenAsks: unknown) =>
        ApprovalRequestSchema.parse({ ...valid, askAgain: { delayBetweenAsks } }).askAgain.delayBetweenAsks;
      expect(delay(MIN_DELAY_BETWEEN_ASKS_SECONDS)).toBe(5);
      expect(delay('5s')).toBe(5);
      expect(delay('1m')).toBe(60);
      expect(ApprovalRequestSchema.parse(valid).askAgain.delayBetweenAsks).toBe(60);
      for (const tooShort of [0, 1, 4, '4s', '0m']) {
        expect(errorOf({ ...valid, askAgain: { delayBetweenAsks: tooShort } })).toBe(
          "askAgain.delayBetweenAsks: askAgain.delayBetweenAsks must be at least 5 seconds (CIBA's default polling interval)",
        );
      }
    });

    it('the flood of the incident is refused whole: requestedExpiry 1, delayBetweenAsks 0, maxAsks 10000', () => {
      const flood = { ...valid, requestedExpiry: 1, askAgain: { maxAsks: 10_000, delayBetweenAsks: 0 } };
      const error = errorOf(flood);
      for (const field of ['requestedExpiry', 'askAgain.maxAsks', 'askAgain.delayBetweenAsks'])
        expect(error).toContain(`${field}: `);
    });
  });

  describe('length limits', () => {
    const cases: Array<[field: string, max: number, input: (text: string) => Record<string, unknown>]> = [
      ['loginHint', MAX_LOGIN_HINT_LENGTH, (text) => ({ ...valid, loginHint: text })],
      [
        'loginHintToken',
        MAX_HINT_TOKEN_LENGTH,
        (text) => ({ bindingMessage: valid.bindingMessage, loginHintToken: text }),
      ],
      ['idTokenHint', MAX_HINT_TOKEN_LENGTH, (text) => ({ bindingMessage: valid.bindingMessage, idTokenHint: text })],
      ['audience', MAX_AUDIENCE_LENGTH, (text) => ({ ...valid, audience: text })],
      ['acrValues.0', MAX_ACR_VALUE_LENGTH, (text) => ({ ...valid, acrValues: [text] })],
      ['scope', MAX_SCOPE_LENGTH, (text) => ({ ...valid, scope: text })],
    ];

    it.each(cases)('%s: at most %d characters', (field, max, input) => {
      expect(ApprovalRequestSchema.safeParse(input('a'.repeat(max))).success).toBe(true);
      expect(errorOf(input('a'.repeat(max + 1)))).toBe(
        `${field}: Too big: expected string to have <=${max} characters`,
      );
    });

    it('the values: 512, 8192, 2048, 256 (10 entries), 1024', () => {
      expect([
        MAX_LOGIN_HINT_LENGTH,
        MAX_HINT_TOKEN_LENGTH,
        MAX_AUDIENCE_LENGTH,
        MAX_ACR_VALUE_LENGTH,
        MAX_ACR_VALUES,
        MAX_SCOPE_LENGTH,
      ]).toEqual([512, 8192, 2048, 256, 10, 1024]);
    });

    it('at most 10 acrValues', () => {
      const acr = (n: number) => Array.from({ length: n }, (_, i) => `urn:acr:${i}`);
      expect(ApprovalRequestSchema.parse({ ...valid, acrValues: acr(MAX_ACR_VALUES) }).acrValues).toHaveLength(10);
      expect(errorOf({ ...valid, acrValues: acr(11) })).toBe('acrValues: Too big: expected array to have <=10 items');
    });

    it('a scope of 1024 characters counts after trimming', () => {
      expect(ApprovalRequestSchema.safeParse({ ...valid, scope: ` ${'a'.repeat(MAX_SCOPE_LENGTH)} ` }).success).toBe(
        true,
      );
    });
  });

  describe('safe text: no bidi control, zero-width, format or control character where a user reads it', () => {
    it('in bindingMessage, named with the character (and only that error)', () => {
      expect(errorOf({ ...valid, bindingMessage: 'Pay 50.00 USD to Example\u202ECorp' })).toBe(
        'bindingMessage: bindingMessage contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character',
      );
      expect(errorOf({ ...valid, bindingMessage: 'Pay\u200B 50' })).toBe(
        'bindingMessage: bindingMessage contains U+200B ZERO WIDTH SPACE, a zero-width character',
      );
      expect(errorOf({ ...valid, bindingMessage: 'two\nlines' })).toBe(
        'bindingMessage: bindingMessage contains U+000A LINE FEED, a control character',
      );
    });

    it('in authorizationDetails values, at any depth, with the field path', () => {
      const payment = {
        type: 'payment_initiation',
        instructedAmount: { currency: 'USD', amount: '50.00' },
        creditorName: 'Example\u202ECorp',
      };
      expect(errorOf({ ...valid, authorizationDetails: [payment] })).toBe(
        'authorizationDetails: authorizationDetails[0].creditorName contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi ' +
          'control character',
      );
      const nested = { type: 'x', creditorAccount: { holders: [{ name: 'ok' }, { name: 'A\u2066B' }] } };
      expect(errorOf({ ...valid, authorizationDetails: [{ type: 'x' }, nested] })).toBe(
        'authorizationDetails: authorizationDetails[1].creditorAccount.holders[1].name contains U+2066 LEFT-TO-RIGHT ' +
          'ISOLATE, a bidi control character',
      );
      expect(errorOf({ ...valid, authorizationDetails: [{ type: 'x', note: 'soft\u00ADhyphen' }] })).toBe(
        'authorizationDetails: authorizationDetails[0].note contains U+00AD SOFT HYPHEN, an invisible format character',
      );
      expect(errorOf({ ...valid, authorizationDetails: [{ type: 'x\u0000' }] })).toContain('U+0000 NULL');
    });

    it('in authorizationDetails member names, at any depth', () => {
      const details = [{ type: 'x', creditorAccount: { ['ib\u200Dan']: 'DE00' } }];
      expect(errorOf({ ...valid, authorizationDetails: details })).toBe(
        'authorizationDetails: authorizationDetails[0].creditorAccount has a member name "ib\\u{200D}an" that contains ' +
          'U+200D ZERO WIDTH JOINER, a zero-width character',
      );
    });

    it('accepts letters of any script, accents, emoji and symbols', () => {
      const details = [{ type: 'x', name: 'Müller & Söhne, 東京, Москва, مرحبا ✓ 😀', ключ: 'значение' }];
      expect(
        ApprovalRequestSchema.parse({
          ...valid,
          bindingMessage: 'Überweisung an Müller ✓',
          authorizationDetails: details,
        }).authorizationDetails,
      ).toEqual(details);
    });
  });

  it('shows the new bounds in its JSON Schema (contract/, OpenAPI)', () => {
    const schema = z.toJSONSchema(ApprovalRequestSchema, { io: 'input', unrepresentable: 'throw' }) as {
      properties: Record<string, any>;
    };
    const { properties: p } = schema;
    expect(p.loginHint.maxLength).toBe(512);
    expect(p.loginHintToken.maxLength).toBe(8192);
    expect(p.idTokenHint.maxLength).toBe(8192);
    expect(p.audience.maxLength).toBe(2048);
    expect(p.scope.maxLength).toBe(1024);
    expect(p.acrValues).toMatchObject({ maxItems: 10, items: { maxLength: 256 } });
    expect(p.requestedExpiry).toMatchObject({ minimum: 10, maximum: 259_200 });
    expect(p.askAgain.properties.maxAsks).toMatchObject({ minimum: 1, maximum: 10 });
    expect(p.askAgain.properties.delayBetweenAsks).toMatchObject({ minimum: 5 });
    expect(p.askAgain.properties.delayBetweenAsks.description).toContain('At least 5 seconds');
    expect(p.seal).toBeDefined();
  });
});

describe('legacyApprovalRequestSchema: the rules of approvals started before these, for their replay', () => {
  it('is built once', () => {
    expect(legacyApprovalRequestSchema()).toBe(legacyApprovalRequestSchema());
  });

  it('accepts what the recorded histories and older clients sent: short expiry, quick and many asks', () => {
    for (const request of [
      { ...valid, requestedExpiry: 2, askAgain: { maxAsks: 3, delayBetweenAsks: 1 } },
      { ...valid, requestedExpiry: 1, askAgain: { maxAsks: 10_000, delayBetweenAsks: 0 } },
    ]) {
      expect(ApprovalRequestSchema.safeParse(request).success).toBe(false);
      expect(legacyApprovalRequestSchema().parse(request)).toMatchObject({
        requestedExpiry: request.requestedExpiry,
        askAgain: { ...request.askAgain, afterLostAnswer: false },
      });
    }
  });

  it('has no safe-text rule and no length limits', () => {
    const request = {
      loginHint: 'a'.repeat(MAX_LOGIN_HINT_LENGTH + 1),
      bindingMessage: 'Pay 50',
      authorizationDetails: [{ type: 'x', creditorName: 'Example\u202ECorp', ['k\u200Bey']: 1 }],
      audience: 'a'.repeat(MAX_AUDIENCE_LENGTH + 1),
      scope: 'a'.repeat(MAX_SCOPE_LENGTH + 1),
      acrValues: Array.from({ length: 20 }, () => 'a'.repeat(MAX_ACR_VALUE_LENGTH + 1)),
    };
    expect(ApprovalRequestSchema.safeParse(request).success).toBe(false);
    expect(legacyApprovalRequestSchema().safeParse(request).success).toBe(true);
    const token = { bindingMessage: 'x', idTokenHint: 'a'.repeat(MAX_HINT_TOKEN_LENGTH + 1) };
    expect(legacyApprovalRequestSchema().safeParse(token).success).toBe(true);
  });

  it('keeps every rule older than these: hints, durations, the binding message pattern, unknown fields, seal', () => {
    const legacy = (input: unknown) => {
      const result = legacyApprovalRequestSchema().safeParse(input);
      return result.success ? 'ok' : formatZodError(result.error);
    };
    expect(legacy({ bindingMessage: 'x' })).toContain('one of loginHint, loginHintToken or idTokenHint is required');
    expect(legacy({ ...valid, idTokenHint: 'eyJ' })).toContain('exactly one of loginHint');
    expect(legacy({ ...valid, bindingMessage: 'two\nlines' })).toMatch(
      /^bindingMessage: bindingMessage must be 1 to 128/,
    );
    expect(legacy({ ...valid, approvalTimeout: '31d' })).toContain('approvalTimeout must be between');
    expect(legacy({ ...valid, requestedExpiry: 0 })).toContain('requestedExpiry');
    expect(legacy({ ...valid, askAgain: { maxAsks: 10_001 } })).toContain('askAgain.maxAsks');
    expect(legacy({ ...valid, bindingMesage: 'typo' })).toContain('bindingMesage');
    expect(legacy({ ...valid, loginHint: '{"format":"iss_sub"' })).toContain('not valid JSON');
    expect(legacy({ ...valid, authorizationDetails: [{ type: 'x', blob: 'x'.repeat(70_000) }] })).toContain(
      'more than 65536',
    );
    const seal = { workflowId: 'w', issuedAt: '2026-01-01T00:00:00.000Z', requestId: 'r'.repeat(16) };
    expect(legacyApprovalRequestSchema().parse({ ...valid, seal }).seal).toEqual(seal);
    expect(legacy({ ...valid, seal: { workflowId: 'w' } })).toContain('seal');
  });

  it('accepts whatever the current schema accepts, with the same output (property)', () => {
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('Example\u202ECorp', 'a\u200Bb', '\n'));
    const input = fc.record(
      {
        loginHint: fc.oneof(fc.constant('alice@example.com'), text),
        bindingMessage: fc.oneof(fc.constant('Pay 50.00 USD'), text),
        authorizationDetails: fc.array(
          fc.dictionary(text, fc.oneof(text, fc.integer())).map((d) => ({ ...d, type: 'x' })),
          { minLength: 1, maxLength: 2 },
        ),
        requestedExpiry: fc.integer({ min: 0, max: 400 }),
        askAgain: fc.record(
          {
            maxAsks: fc.integer({ min: 0, max: 20 }),
            delayBetweenAsks: fc.oneof(fc.nat(90), fc.constantFrom('3s', '1m')),
          },
          { requiredKeys: [] },
        ),
        acrValues: fc.array(text, { maxLength: 12 }),
      },
      { requiredKeys: ['loginHint', 'bindingMessage'] },
    );
    const seen = { both: 0, legacyOnly: 0 };
    fc.assert(
      fc.property(input, (request) => {
        const current = ApprovalRequestSchema.safeParse(request);
        const legacy = legacyApprovalRequestSchema().safeParse(request);
        if (current.success) {
          seen.both += 1;
          expect(legacy.success && legacy.data).toEqual(current.data);
        } else if (legacy.success) {
          seen.legacyOnly += 1;
        }
      }),
      { numRuns: 1_000 },
    );
    expect(seen.both).toBeGreaterThan(10);
    expect(seen.legacyOnly).toBeGreaterThan(10);
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
