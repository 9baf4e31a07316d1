/**
 * The HTTP API's OpenAPI document says what the running API does, value by value: every request body the document
 * calls valid is started (201), every one it calls invalid is refused (400), for each provider profile. The document
 * is checked by a JSON Schema 2020-12 validator (ajv); the API is the real one (api/app.ts, listening on a free port)
 * over a real ApprovalClient whose Temporal client only records starts: what is tested is what the
 * API accepts, not Temporal. Also the document's own words: Idempotency-Key required, the result's default wait,
 * 429 with Retry-After, 405 with Allow.
 */
import Ajv2020 from 'ajv/dist/2020';
import type { Client } from '@temporalio/client';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../api/app';
import { ApiKeys } from '../api/keys';
import { durationBetween, portablePattern, wholeNumbersBetween } from '../api/openapi-transform';
import { ApprovalClient } from '../client/approvals';
import { PROVIDER_PROFILE_NAMES, type ProviderProfileName } from '../common/provider-profile';

const SECRET = 'contract-test-secret-0123456789';
const AUTHORIZATION = `Basic ${Buffer.from(`agent:${SECRET}`).toString('base64')}`;

interface Api {
  app: FastifyInstance;
  document: any;
  /** Whether the document's schema for POST /approvals takes `body`. */
  documentTakes(body: unknown): boolean;
  /** Whether the running API starts `body` (201), or refuses it (400); anything else fails the test. */
  apiTakes(body: unknown): Promise<boolean>;
}

const apis = new Map<ProviderProfileName, Api>();

async function apiFor(profile: ProviderProfileName): Promise<Api> {
  const known = apis.get(profile);
  if (known) return known;
  let started = 0;
  const temporal = {
    workflow: {
      start: async () => {
        started++;
        return {};
      },
    },
  } as unknown as Client;
  const app = await buildApi({
    approvals: new ApprovalClient(temporal, 'contract-test', profile),
    keys: ApiKeys.fromEntries(`agent:${SECRET}`),
    startsPerMinute: 1_000_000,
  });
  // Over HTTP, as callers reach it (Fastify's inject does not load under jest).
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const document = app.swagger() as any;
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  ajv.addSchema({ ...document, $id: 'https://ciba-temporal.invalid/openapi.json' });
  const ref = document.paths['/approvals'].post.requestBody.content['application/json'].schema.$ref as string;
  const validate = ajv.getSchema(`https://ciba-temporal.invalid/openapi.json${ref}`)!;
  let key = 0;
  const api: Api = {
    app,
    document,
    documentTakes: (body) => validate(body) as boolean,
    async apiTakes(body) {
      const before = started;
      const answer = await fetch(`${base}/approvals`, {
        method: 'POST',
        headers: { authorization: AUTHORIZATION, 'idempotency-key': `k${key++}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await answer.text();
      if (answer.status !== 201 && answer.status !== 400) throw new Error(`unexpected ${answer.status}: ${text}`);
      expect(started - before).toBe(answer.status === 201 ? 1 : 0);
      return answer.status === 201;
    },
  };
  apis.set(profile, api);
  return api;
}

afterAll(async () => {
  for (const api of apis.values()) await api.app.close();
});

/** Whether a name or string anywhere in `value` holds half of a UTF-16 surrogate pair. */
function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return /\p{Cs}/u.test(value);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([key, child]) => hasLoneSurrogate(key) || hasLoneSurrogate(child));
}

const base = { loginHint: 'alice@example.com', bindingMessage: 'Pay 50.00 USD to ExampleCorp' };
const payment = { type: 'payment_initiation', instructedAmount: { currency: 'USD', amount: '50.00' } };
const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { next: nested(depth - 1) });

/** Request bodies on both sides of every rule the document states. */
const SAMPLES: Record<string, unknown> = {
  minimal: base,
  'no hint': { bindingMessage: base.bindingMessage },
  'loginHintToken only': { loginHintToken: 'eyJ.a.b', bindingMessage: 'Pay' },
  'idTokenHint only': { idTokenHint: 'eyJ.a.b', bindingMessage: 'Pay' },
  'two hints': { ...base, idTokenHint: 'eyJ.a.b' },
  'three hints': { ...base, loginHintToken: 'x', idTokenHint: 'y' },
  'the issue: only a binding message': { bindingMessage: '00' },
  'blank hint': { ...base, loginHint: '   ' },
  'hint with a space before': { ...base, loginHint: ' alice@example.com' },
  'hint with a newline after': { ...base, loginHint: 'alice@example.com\n' },
  'hint with inner space': { ...base, loginHint: 'alice smith' },
  'iss_sub hint': { ...base, loginHint: '{"format":"iss_sub","iss":"https://tenant.example.com/","sub":"auth0|42"}' },
  'broken JSON hint': { ...base, loginHint: '{"format":"iss_sub"' },
  'hint of 512': { ...base, loginHint: 'a'.repeat(512) },
  'hint of 513': { ...base, loginHint: 'a'.repeat(513) },
  'scope with a space after': { ...base, scope: 'openid payments ' },
  'scope with two spaces inside': { ...base, scope: 'openid  payments' },
  'scope of tokens': { ...base, scope: 'openid payments:write' },
  'blank audience': { ...base, audience: ' ' },
  'acr value with a space before': { ...base, acrValues: [' urn:mfa'] },
  'binding message of 64': { ...base, bindingMessage: 'A'.repeat(64) },
  'binding message of 65': { ...base, bindingMessage: 'A'.repeat(65) },
  'binding message of 50': { ...base, bindingMessage: 'A'.repeat(50) },
  'binding message of 51': { ...base, bindingMessage: 'A'.repeat(51) },
  'binding message of 128': { ...base, bindingMessage: 'A'.repeat(128) },
  'binding message of 129': { ...base, bindingMessage: 'A'.repeat(129) },
  'binding message of spaces': { ...base, bindingMessage: '   ' },
  'binding message with a euro': { ...base, bindingMessage: 'Pay 50 € now' },
  'binding message with an RLO': { ...base, bindingMessage: 'Pay \u202Eproc' },
  'binding message with a zero-width space': { ...base, bindingMessage: 'Pay\u200BCorp' },
  'binding message with a newline': { ...base, bindingMessage: 'Pay\nnow' },
  'repeatable, 57': { ...base, bindingMessage: 'A'.repeat(57), askAgain: { afterLostAnswer: true } },
  'repeatable, 58': { ...base, bindingMessage: 'A'.repeat(58), askAgain: { afterLostAnswer: true } },
  'repeatable, 44': { ...base, bindingMessage: 'A'.repeat(44), askAgain: { afterLostAnswer: true } },
  'repeatable, 45': { ...base, bindingMessage: 'A'.repeat(45), askAgain: { afterLostAnswer: true } },
  'repeatable, 121': { ...base, bindingMessage: 'A'.repeat(121), askAgain: { afterLostAnswer: true } },
  'repeatable, 122': { ...base, bindingMessage: 'A'.repeat(122), askAgain: { afterLostAnswer: true } },
  'not repeatable, 64': { ...base, bindingMessage: 'A'.repeat(64), askAgain: { afterLostAnswer: false } },
  'a payment': { ...base, authorizationDetails: [payment] },
  'no entries': { ...base, authorizationDetails: [] },
  '5 entries': { ...base, authorizationDetails: Array(5).fill(payment) },
  '6 entries': { ...base, authorizationDetails: Array(6).fill(payment) },
  '20 entries': { ...base, authorizationDetails: Array(20).fill({ type: 't' }) },
  '21 entries': { ...base, authorizationDetails: Array(21).fill({ type: 't' }) },
  'entry without type': { ...base, authorizationDetails: [{ amount: 1 }] },
  'empty type': { ...base, authorizationDetails: [{ type: '' }] },
  '10 members': {
    ...base,
    authorizationDetails: [Object.fromEntries([['type', 't'], ...Array.from({ length: 9 }, (_, i) => [`m${i}`, i])])],
  },
  '11 members': {
    ...base,
    authorizationDetails: [Object.fromEntries([['type', 't'], ...Array.from({ length: 10 }, (_, i) => [`m${i}`, i])])],
  },
  'string of 255': { ...base, authorizationDetails: [{ type: 't', note: 'x'.repeat(255) }] },
  'string of 256': { ...base, authorizationDetails: [{ type: 't', note: 'x'.repeat(256) }] },
  'name of 256': { ...base, authorizationDetails: [{ type: 't', ['n'.repeat(256)]: 1 }] },
  'depth 5': { ...base, authorizationDetails: [{ type: 't', next: nested(3) }] },
  'depth 6': { ...base, authorizationDetails: [{ type: 't', next: nested(4) }] },
  'depth 8': { ...base, authorizationDetails: [{ type: 't', next: nested(6) }] },
  'depth 9': { ...base, authorizationDetails: [{ type: 't', next: nested(7) }] },
  'array values': { ...base, authorizationDetails: [{ type: 't', list: [1, 'two', null, true, [3]] }] },
  'RLO in a value': { ...base, authorizationDetails: [{ type: 't', creditorName: 'Example\u202ECorp' }] },
  'zero-width space in a name': { ...base, authorizationDetails: [{ type: 't', ['credit\u200Bor']: 'x' }] },
  'control character in a nested value': { ...base, authorizationDetails: [{ type: 't', a: { b: ['x\u0007'] } }] },
  'an emoji': { ...base, authorizationDetails: [{ type: 't', note: 'ok 👍' }] },
  'approvalTimeout 0': { ...base, approvalTimeout: 0 },
  'approvalTimeout 1': { ...base, approvalTimeout: 1 },
  'approvalTimeout 30 days': { ...base, approvalTimeout: 2_592_000 },
  'approvalTimeout 30 days and 1 s': { ...base, approvalTimeout: 2_592_001 },
  'approvalTimeout "0s"': { ...base, approvalTimeout: '0s' },
  'approvalTimeout "30d"': { ...base, approvalTimeout: '30d' },
  'approvalTimeout "31d"': { ...base, approvalTimeout: '31d' },
  'approvalTimeout "720h"': { ...base, approvalTimeout: '720h' },
  'approvalTimeout "721h"': { ...base, approvalTimeout: '721h' },
  'approvalTimeout "000000001s"': { ...base, approvalTimeout: '000000001s' },
  'approvalTimeout "0000000001s"': { ...base, approvalTimeout: '0000000001s' },
  'approvalTimeout " 5m "': { ...base, approvalTimeout: ' 5m ' },
  'approvalTimeout "1.5h"': { ...base, approvalTimeout: '1.5h' },
  'approvalTimeout "٣s" (Arabic-Indic digit)': { ...base, approvalTimeout: '٣s' },
  'delay 4': { ...base, askAgain: { delayBetweenAsks: 4 } },
  'delay 5': { ...base, askAgain: { delayBetweenAsks: 5 } },
  'delay "4s"': { ...base, askAgain: { delayBetweenAsks: '4s' } },
  'delay "5s"': { ...base, askAgain: { delayBetweenAsks: '5s' } },
  'delay "1m"': { ...base, askAgain: { delayBetweenAsks: '1m' } },
  'delay "999999999d"': { ...base, askAgain: { delayBetweenAsks: '999999999d' } },
  'maxAsks 10': { ...base, askAgain: { maxAsks: 10 } },
  'maxAsks 11': { ...base, askAgain: { maxAsks: 11 } },
  'requestedExpiry 9': { ...base, requestedExpiry: 9 },
  'requestedExpiry 10': { ...base, requestedExpiry: 10 },
  'a seal': { ...base, seal: { workflowId: 'x', issuedAt: new Date().toISOString(), requestId: 'r'.repeat(20) } },
  'an unknown member': { ...base, extra: 1 },
  'not an object': ['loginHint'],
};

describe.each(PROVIDER_PROFILE_NAMES)('the OpenAPI document of an API with provider profile %s', (profile) => {
  it.each(Object.keys(SAMPLES))('agrees with the API on: %s', async (name) => {
    const api = await apiFor(profile);
    const body = SAMPLES[name];
    expect({ name, document: api.documentTakes(body) }).toEqual({ name, document: await api.apiTakes(body) });
  });

  it('agrees with the API on generated bodies (fast-check, fixed seed)', async () => {
    const api = await apiFor(profile);
    // Mostly valid values, with odd ones mixed in: both sides of every rule are reached.
    const text = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('', ' ', ' a', 'a ', '{"x":1}', '\u202E', 'a\u200Bb', '\n'),
    );
    const mostly = <T>(good: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: text });
    const optional = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined, freq: 2 });
    const hint = fc.constantFrom('loginHint', 'loginHintToken', 'idTokenHint');
    const duration = fc.oneof(
      fc.integer({ min: 0, max: 3_000_000 }),
      fc.constantFrom('0s', '4s', '5s', '1m', '24h', '30d', '31d', '721h', ' 90s', '1.5h'),
    );
    const details = fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            type: mostly(fc.constant('payment_initiation')),
            note: fc.jsonValue({ maxDepth: 6 }),
          }),
        },
        { weight: 1, arbitrary: fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 12 }) },
      ),
      { maxLength: 7 },
    );
    const generated = fc.record({
      hint,
      hintValue: mostly(fc.constantFrom('alice@example.com', 'eyJ.a.b', 'auth0|42')),
      secondHint: fc.option(hint, { freq: 8 }),
      bindingMessage: mostly(
        fc.oneof(fc.stringMatching(/^[A-Za-z0-9._+#-]{1,55}$/), fc.stringMatching(/^[A-Za-z0-9 .,:#+_-]{1,70}$/)),
      ),
      scope: optional(mostly(fc.constantFrom('openid', 'openid payments', 'payments:write'))),
      audience: optional(mostly(fc.constant('https://api.example.com'))),
      acrValues: optional(fc.array(mostly(fc.constant('urn:mfa')), { maxLength: 2 })),
      authorizationDetails: optional(details),
      approvalTimeout: optional(mostly(duration)),
      askAgain: optional(
        fc.record(
          {
            maxAsks: mostly(fc.integer({ min: 0, max: 12 })),
            delayBetweenAsks: mostly(duration),
            afterLostAnswer: fc.boolean(),
          },
          { requiredKeys: [] },
        ),
      ),
      requestedExpiry: optional(mostly(fc.integer({ min: 0, max: 300_000 }))),
    });
    const verdicts = { taken: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(generated, async ({ hint: name, hintValue, secondHint, ...rest }) => {
        const body = JSON.parse(
          JSON.stringify({ [name]: hintValue, ...(secondHint ? { [secondHint]: 'x' } : {}), ...rest }),
        );
        // The size of authorization_details in bytes is a limit JSON Schema cannot state; lone surrogates, which the
        // API refuses, are not characters that Rust's or Python's schema tools can be told about (see the document).
        fc.pre(Buffer.byteLength(JSON.stringify(body.authorizationDetails ?? [])) < 4_000);
        fc.pre(!hasLoneSurrogate(body));
        const taken = await api.apiTakes(body);
        expect(api.documentTakes(body)).toBe(taken);
        verdicts[taken ? 'taken' : 'refused']++;
      }),
      { seed: 4711, numRuns: 400 },
    );
    // Both sides of the rules were reached.
    expect(verdicts.taken).toBeGreaterThan(10);
    expect(verdicts.refused).toBeGreaterThan(10);
  });
});

describe('the document', () => {
  it('names Idempotency-Key as required, the result wait default, 429 with Retry-After; the body has no seal', async () => {
    const { document } = await apiFor('auth0');
    expect(document.paths['/approvals'].post.parameters).toContainEqual(
      expect.objectContaining({ in: 'header', name: 'Idempotency-Key', required: true }),
    );
    expect(document.paths['/approvals'].post.description).toMatch(/Idempotency-Key header is required/);
    const wait = document.paths['/approvals/{id}/result'].get;
    expect(wait.parameters).toContainEqual(
      expect.objectContaining({ in: 'query', name: 'wait', schema: expect.objectContaining({ default: 30 }) }),
    );
    expect(wait.description).toMatch(/default 30/);
    expect(document.paths['/approvals'].post.responses['429'].headers['Retry-After']).toMatchObject({
      required: true,
    });
    expect(document.components.schemas.ApprovalRequestInput.properties.seal).toBeUndefined();
  });

  it('spells patterns as JavaScript reads them, for any tool', () => {
    expect(portablePattern(String.raw`^\s*\d{1,9}[smhd]\s*$`)).toBe(
      String.raw`^[\t\n\v\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]*[0-9]{1,9}[smhd][\t\n\v\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]*$`,
    );
    expect(portablePattern('^(?=.*[^ ])a.b$')).toBe(String.raw`^(?=[^\n\r\u2028\u2029]*[^ ])a[^\n\r\u2028\u2029]b$`);
    expect(portablePattern(String.raw`a\.b\\s`)).toBe(String.raw`a\.b\\s`);
  });

  it('writes number ranges as regular expressions that take exactly the range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000_000 }), fc.integer({ min: 0, max: 5_000_000 }), (low, span) => {
        const high = low + span;
        const pattern = new RegExp(`^${wholeNumbersBetween(low, high, 9)}$`);
        for (const n of [low - 1, low, low + 1, Math.floor((low + high) / 2), high - 1, high, high + 1, 0]) {
          expect({ n, taken: pattern.test(String(n)) }).toEqual({ n, taken: n >= low && n <= high && n >= 1 });
          expect(pattern.test(String(n).padStart(9, '0'))).toBe(n >= low && n <= high && n >= 1);
          expect(pattern.test(String(n).padStart(10, '0'))).toBe(false);
        }
      }),
      { seed: 4711, numRuns: 300 },
    );
    const delay = new RegExp(durationBetween(5, Infinity));
    expect(['5s', ' 1m', '999999999d', '0005s'].filter((d) => delay.test(d))).toHaveLength(4);
    expect(['4s', '0m', '1000000000s', '5'].filter((d) => delay.test(d))).toHaveLength(0);
  });
});
