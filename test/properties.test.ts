/**
 * Property-based tests (fast-check): every generated request is either a valid approval or refused with a named
 * error; every generated provider answer is either a CIBA outcome or a typed failure; no decision crashes or stalls.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import fc from 'fast-check';
import { createCibaActivities } from '../activities/activities';
import { backchannelParameters, CibaClient } from '../activities/ciba-protocol';
import { ApprovalRequestSchema, formatZodError } from '../common/approval';
import { PROVIDER_PROFILES, profileViolations } from '../common/provider-profile';
import { interpretPollAnswer, nextAsk, nextPollDelaySeconds, type PollingState } from '../workflows/polling';

const json = fc.jsonValue({ maxDepth: 4 });
const detail = fc.oneof(
  fc.record({ type: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }),
  fc.dictionary(fc.string({ maxLength: 10 }), json, { maxKeys: 6 }).map((d) => ({ type: 'payment_initiation', ...d })),
  json,
);
/** Mostly `valid` forms, sometimes anything else: each field is wrong on its own often enough. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: invalid, weight: 1 });
const issSub = fc
  .record({ format: fc.constant('iss_sub'), iss: fc.webUrl(), sub: fc.string({ minLength: 1, maxLength: 20 }) })
  .map((hint) => JSON.stringify(hint));
/** Requests near the valid ones, with every field sometimes wrong, missing or of another type. */
const requestInput = fc
  .record(
    {
      loginHint: mostly(fc.oneof(fc.constant('alice@example.com'), issSub), fc.oneof(fc.string(), json)),
      bindingMessage: mostly(fc.string({ minLength: 1, maxLength: 60 }), fc.oneof(fc.string({ maxLength: 200 }), json)),
      scope: mostly(fc.constantFrom('openid', 'payments offline_access'), fc.oneof(fc.string(), json)),
      authorizationDetails: mostly(fc.array(detail, { minLength: 1, maxLength: 6 }), json),
      requestedExpiry: mostly(fc.integer({ min: 1, max: 259_200 }), fc.oneof(fc.integer(), fc.double(), json)),
      approvalTimeout: mostly(
        fc.constantFrom('15m', '24h', 3600),
        fc.oneof(fc.constantFrom('31d', '-1h', '1.5h'), json),
      ),
      askAgain: mostly(
        fc.record({ maxAsks: fc.integer({ min: 1, max: 20 }), afterLostAnswer: fc.boolean() }, { requiredKeys: [] }),
        json,
      ),
      ungrantedAuthorizationDetails: mostly(fc.constantFrom('fail', 'accept'), json),
    },
    { requiredKeys: ['loginHint', 'bindingMessage'] },
  )
  .chain((request) => fc.oneof({ arbitrary: fc.constant(request), weight: 9 }, { arbitrary: json, weight: 1 }));

describe('the request schema', () => {
  it('accepts a request whole or refuses it with a message naming a field; its output is its own fixed point', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(requestInput, (input) => {
        const result = ApprovalRequestSchema.safeParse(input);
        if (!result.success) {
          seen.refused += 1;
          expect(formatZodError(result.error)).toMatch(/\S/);
          return;
        }
        seen.accepted += 1;
        // What continue-as-new hands on, and what the workflow parses again, is the same request.
        expect(ApprovalRequestSchema.parse(result.data)).toEqual(result.data);
        expect(() => backchannelParameters(result.data)).not.toThrow();
        for (const profile of Object.values(PROVIDER_PROFILES)) {
          for (const violation of profileViolations(profile, result.data, { repeatable: true })) {
            expect(['bindingMessage', 'authorizationDetails']).toContain(violation.field);
          }
        }
      }),
      { numRuns: 2_000 },
    );
    // The generator reaches both sides, so the property says something about each.
    expect(seen.accepted).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });
});

/** A peer that answers each request with the next generated HTTP answer (discovery is always valid). */
interface Answer {
  status: number;
  contentType: string;
  body: string;
  retryAfter?: string;
}

const tokenResponse = fc.record(
  {
    access_token: fc.oneof(fc.string(), json),
    token_type: fc.oneof(fc.constantFrom('Bearer', 'bearer', 'DPoP', 'mac'), json),
    expires_in: fc.oneof(fc.integer(), json),
    id_token: fc.oneof(fc.string(), json),
    scope: fc.oneof(fc.string(), json),
    authorization_details: fc.oneof(fc.array(detail, { maxLength: 3 }), json),
  },
  { requiredKeys: [] },
);
const errorResponse = fc.record(
  {
    error: fc.oneof(
      fc.constantFrom(
        'authorization_pending',
        'slow_down',
        'access_denied',
        'expired_token',
        'invalid_grant',
        'invalid_client',
      ),
      fc.string(),
      json,
    ),
    error_description: fc.oneof(fc.string(), json),
    interval: fc.oneof(fc.integer(), fc.double(), json),
  },
  { requiredKeys: [] },
);
const ackResponse = fc.record(
  {
    auth_req_id: fc.oneof(fc.string(), json),
    expires_in: fc.oneof(fc.integer(), fc.double(), json),
    interval: fc.oneof(fc.integer(), json),
  },
  { requiredKeys: [] },
);
const answer: fc.Arbitrary<Answer> = fc.record({
  status: fc.oneof(
    fc.constantFrom(200, 400, 401, 403, 404, 413, 429, 500, 502, 503),
    fc.integer({ min: 200, max: 599 }),
  ),
  contentType: fc.constantFrom('application/json', 'application/json;charset=utf-8', 'text/html'),
  body: fc.oneof(
    tokenResponse.map((b) => JSON.stringify(b)),
    errorResponse.map((b) => JSON.stringify(b)),
    ackResponse.map((b) => JSON.stringify(b)),
    fc.string(),
    fc.constant(''),
  ),
  retryAfter: fc.option(fc.oneof(fc.nat({ max: 120 }).map(String), fc.string()), { nil: undefined }),
});

describe('provider answers', () => {
  let server: http.Server;
  let issuer: string;
  let next: Answer;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            issuer,
            token_endpoint: `${issuer}/token`,
            backchannel_authentication_endpoint: `${issuer}/bc-authorize`,
          }),
        );
        return;
      }
      const headers: Record<string, string> = { 'content-type': next.contentType };
      if (next.retryAfter !== undefined) headers['retry-after'] = next.retryAfter;
      res.writeHead(next.status, headers).end(next.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const KNOWN_FAILURES = [
    'InitiationNotSent',
    'ProviderUnavailable',
    'ApprovalInitiationUncertain',
    'CibaProviderError',
    'InvalidProviderResponse',
  ];

  it('every answer to a poll is a CIBA outcome or a typed failure', async () => {
    const ciba = new CibaClient({
      issuer: new URL(issuer),
      clientId: 'agent',
      clientAuth: { method: 'client_secret_basic', clientSecret: 'secret' },
      httpTimeoutMs: 5_000,
    });
    const activities = createCibaActivities(ciba, PROVIDER_PROFILES.generic);
    try {
      await fc.assert(
        fc.asyncProperty(answer, async (generated) => {
          next = generated;
          try {
            const outcome = await activities.pollToken({ authReqId: 'r1', intervalSeconds: 5 });
            expect([
              'authorization_pending',
              'slow_down',
              'approved',
              'access_denied',
              'expired_token',
              'invalid_grant',
            ]).toContain(outcome.kind);
            if (outcome.kind === 'approved') expect(typeof outcome.tokens.accessToken).toBe('string');
          } catch (error) {
            expect(error).toBeInstanceOf(ApplicationFailure);
            expect(KNOWN_FAILURES).toContain((error as ApplicationFailure).type);
          }
        }),
        { numRuns: 300 },
      );
    } finally {
      await ciba.close();
    }
  });

  it('every answer to a backchannel request is an acknowledgment or a typed failure', async () => {
    const ciba = new CibaClient({
      issuer: new URL(issuer),
      clientId: 'agent',
      clientAuth: { method: 'client_secret_post', clientSecret: 'secret' },
      httpTimeoutMs: 5_000,
    });
    const activities = createCibaActivities(ciba, PROVIDER_PROFILES.generic);
    const request = ApprovalRequestSchema.parse({ loginHint: 'alice', bindingMessage: 'Pay 5 EUR' });
    try {
      await fc.assert(
        fc.asyncProperty(answer, async (generated) => {
          next = generated;
          try {
            const ack = await activities.requestBackchannelAuthentication(request);
            expect(typeof ack.authReqId).toBe('string');
            expect(ack.expiresIn).toBeGreaterThan(0);
          } catch (error) {
            expect(error).toBeInstanceOf(ApplicationFailure);
            expect(KNOWN_FAILURES).toContain((error as ApplicationFailure).type);
          }
        }),
        { numRuns: 300 },
      );
    } finally {
      await ciba.close();
    }
  });
});

describe('decisions', () => {
  const T0 = Date.UTC(2026, 10, 26);
  const state = fc.record({
    authReqId: fc.constant('r1'),
    intervalSeconds: fc.integer({ min: 1, max: 3_600 }),
    askedAtMs: fc.constant(T0),
    expiresAtMs: fc.integer({ min: T0 + 1_000, max: T0 + 259_200_000 }),
    polls: fc.nat({ max: 10_000 }),
    slowDowns: fc.nat({ max: 100 }),
  }) satisfies fc.Arbitrary<PollingState>;
  const outcome = fc.oneof(
    fc.constant({ kind: 'authorization_pending' as const }),
    fc.record(
      { kind: fc.constant('slow_down' as const), interval: fc.double(), retryAfterSeconds: fc.integer() },
      { requiredKeys: ['kind'] },
    ),
    fc.constantFrom(
      { kind: 'access_denied' as const },
      { kind: 'expired_token' as const },
      { kind: 'invalid_grant' as const },
      { kind: 'approved' as const, tokens: { tokenType: 'bearer', accessToken: 'at' } },
    ),
  );

  it('every answer at any time leads to a decision; polling never gets faster and always ends', () => {
    fc.assert(
      fc.property(
        state,
        outcome,
        fc.integer({ min: 0, max: 300_000_000 }),
        fc.integer({ min: 1_000, max: 2_592_000_000 }),
        fc.record({
          maxAsks: fc.integer({ min: 1, max: 10_000 }),
          delayBetweenAsks: fc.nat({ max: 86_400 }),
          afterLostAnswer: fc.boolean(),
        }),
        fc.nat({ max: 10_000 }),
        (polling, answer, elapsedMs, deadlineInMs, policy, asks) => {
          const now = T0 + elapsedMs;
          const deadline = T0 + deadlineInMs;
          const delay = nextPollDelaySeconds(polling, now, deadline);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(polling.intervalSeconds);
          const decision = interpretPollAnswer(polling, answer, now, deadline);
          if (decision.kind === 'poll_again') {
            expect(decision.state.intervalSeconds).toBeGreaterThanOrEqual(polling.intervalSeconds);
            expect(now).toBeLessThan(Math.min(polling.expiresAtMs, deadline)); // past the end, polling stops
          }
          if (decision.kind === 'ask_ended') {
            const next = nextAsk(decision, asks, policy, now, deadline);
            if (next.kind === 'ask') {
              expect(next.atMs).toBeLessThan(deadline);
              expect(asks).toBeLessThan(policy.maxAsks);
              if (decision.reason === 'lost_token_response') expect(policy.afterLostAnswer).toBe(true);
            }
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
