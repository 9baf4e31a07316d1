import {
  interpretPollAnswer,
  nextAsk,
  nextPollDelaySeconds,
  slowedDownInterval,
  startPolling,
  DEFAULT_INTERVAL_SECONDS,
  FAST_POLLING_WINDOW_SECONDS,
  SLOW_POLL_SECONDS,
  type PollingState,
} from '../workflows/polling';
import { ApprovalFailureType } from '../common/outcomes';
import { pollingState } from './support/polling-state';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const HOUR = 3_600_000;
const DEADLINE = T0 + 24 * HOUR;
const tokens = { tokenType: 'bearer', accessToken: 'at' };
const policy = { maxAsks: 3, delayBetweenAsks: 60, afterLostAnswer: false };
const reasking = { ...policy, afterLostAnswer: true };

const state = (overrides: Partial<PollingState> = {}) => pollingState(T0, overrides);

describe('startPolling', () => {
  it('uses the provider interval and computes the expiry from expires_in', () => {
    expect(startPolling({ authReqId: 'a', expiresIn: 120, interval: 2 }, T0)).toEqual({
      authReqId: 'a',
      intervalSeconds: 2,
      askedAtMs: T0,
      expiresAtMs: T0 + 120_000,
      polls: 0,
      slowDowns: 0,
    });
  });

  it('defaults the interval to 5 s when the provider sends none (CIBA Core 7.3)', () => {
    expect(startPolling({ authReqId: 'a', expiresIn: 300 }, T0).intervalSeconds).toBe(DEFAULT_INTERVAL_SECONDS);
  });

  it('ignores a zero, negative or non-finite interval', () => {
    for (const interval of [0, -3, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(startPolling({ authReqId: 'a', expiresIn: 300, interval }, T0).intervalSeconds).toBe(5);
    }
  });

  it('rounds fractional intervals up, never polling sooner than asked', () => {
    expect(startPolling({ authReqId: 'a', expiresIn: 300, interval: 1.2 }, T0).intervalSeconds).toBe(2);
  });
});

describe('nextPollDelaySeconds', () => {
  const long = state({ expiresAtMs: T0 + 72 * HOUR });

  it("polls at the provider's interval in the first minutes of a request", () => {
    expect(nextPollDelaySeconds(long, T0, DEADLINE)).toBe(5);
    expect(nextPollDelaySeconds(long, T0 + (FAST_POLLING_WINDOW_SECONDS - 1) * 1000, DEADLINE)).toBe(5);
  });

  it('slows to SLOW_POLL_SECONDS after the fast window', () => {
    expect(nextPollDelaySeconds(long, T0 + FAST_POLLING_WINDOW_SECONDS * 1000, DEADLINE)).toBe(SLOW_POLL_SECONDS);
  });

  it("never polls sooner than the provider's interval, even when it is longer than the slow cadence", () => {
    expect(nextPollDelaySeconds({ ...long, intervalSeconds: 45 }, T0 + HOUR, DEADLINE)).toBe(45);
  });

  it('does not sleep past the expiry of the request or of the approval, but never below the interval', () => {
    expect(nextPollDelaySeconds(state({ expiresAtMs: T0 + 600_000 }), T0 + 590_000, DEADLINE)).toBe(10);
    expect(nextPollDelaySeconds(long, T0 + 3_600_000, T0 + 3_612_000)).toBe(12);
    expect(nextPollDelaySeconds(long, T0 + 3_600_000, T0 + 3_601_000)).toBe(5);
  });
});

describe('interpretPollAnswer', () => {
  it('polls again on authorization_pending before expiry, counting the poll', () => {
    expect(interpretPollAnswer(state(), { kind: 'authorization_pending' }, T0 + 5_000, DEADLINE)).toEqual({
      kind: 'poll_again',
      state: state({ polls: 1 }),
    });
  });

  it('ends the request as expired on authorization_pending at its expiry or at the approval deadline', () => {
    expect(interpretPollAnswer(state(), { kind: 'authorization_pending' }, T0 + 300_000, DEADLINE)).toMatchObject({
      kind: 'ask_ended',
      reason: 'expired',
    });
    expect(interpretPollAnswer(state(), { kind: 'authorization_pending' }, T0 + 60_000, T0 + 60_000)).toMatchObject({
      kind: 'ask_ended',
      reason: 'expired',
    });
  });

  it('adds 5 s to the interval on slow_down, and keeps it for later polls', () => {
    const first = interpretPollAnswer(state(), { kind: 'slow_down' }, T0 + 5_000, DEADLINE);
    expect(first).toEqual({ kind: 'poll_again', state: state({ polls: 1, slowDowns: 1, intervalSeconds: 10 }) });
    if (first.kind !== 'poll_again') throw new Error('unreachable');
    const next = interpretPollAnswer(first.state, { kind: 'authorization_pending' }, T0 + 15_000, DEADLINE);
    expect(next).toMatchObject({ kind: 'poll_again', state: { intervalSeconds: 10, polls: 2 } });
  });

  it("takes the provider's interval or Retry-After on slow_down when larger than +5 s", () => {
    expect(slowedDownInterval(5, { interval: 30 })).toBe(30);
    expect(slowedDownInterval(5, { retryAfterSeconds: 12 })).toBe(12);
    expect(slowedDownInterval(5, { interval: 7, retryAfterSeconds: 8 })).toBe(10);
    expect(slowedDownInterval(20, { interval: 3 })).toBe(25);
  });

  it('returns the tokens on approval, even when the answer comes after the expiry (the user approved in time)', () => {
    expect(interpretPollAnswer(state(), { kind: 'approved', tokens }, T0 + 5_000, DEADLINE)).toEqual({
      kind: 'approved',
      tokens,
    });
    expect(interpretPollAnswer(state(), { kind: 'approved', tokens }, T0 + 400_000, DEADLINE)).toEqual({
      kind: 'approved',
      tokens,
    });
  });

  it('is a denial on access_denied before expiry', () => {
    expect(interpretPollAnswer(state(), { kind: 'access_denied' }, T0 + 5_000, DEADLINE)).toMatchObject({
      kind: 'denied',
    });
  });

  it('reads access_denied after expiry as expiry (Auth0 answers access_denied for both)', () => {
    expect(interpretPollAnswer(state(), { kind: 'access_denied' }, T0 + 300_000, DEADLINE)).toMatchObject({
      kind: 'ask_ended',
      reason: 'expired',
    });
  });

  it('ends the request as expired on expired_token, whenever it comes', () => {
    expect(interpretPollAnswer(state(), { kind: 'expired_token' }, T0 + 5_000, DEADLINE)).toMatchObject({
      kind: 'ask_ended',
      reason: 'expired',
    });
  });

  it('reads invalid_grant before expiry as a lost token response, after expiry as expiry', () => {
    expect(interpretPollAnswer(state(), { kind: 'invalid_grant' }, T0 + 5_000, DEADLINE)).toMatchObject({
      kind: 'ask_ended',
      reason: 'lost_token_response',
    });
    expect(interpretPollAnswer(state(), { kind: 'invalid_grant' }, T0 + 320_000, DEADLINE)).toMatchObject({
      kind: 'ask_ended',
      reason: 'expired',
    });
  });

  it('keeps the provider description in the message', () => {
    expect(
      interpretPollAnswer(state(), { kind: 'access_denied', description: 'end-user denied' }, T0, DEADLINE),
    ).toMatchObject({
      message: expect.stringContaining('end-user denied'),
    });
  });
});

describe('nextAsk', () => {
  const expired = { reason: 'expired' as const, message: 'expired' };
  const lost = { reason: 'lost_token_response' as const, message: 'lost' };

  it('asks again after the policy delay when a request expired and asks remain', () => {
    expect(nextAsk(expired, 1, policy, T0, DEADLINE)).toEqual({ kind: 'ask', reason: 'expired', atMs: T0 + 60_000 });
  });

  it('by default never asks again after a lost answer: it may have been a denial', () => {
    const decision = nextAsk(lost, 1, policy, T0, DEADLINE);
    expect(decision).toEqual({
      kind: 'fail',
      type: ApprovalFailureType.Lost,
      message: expect.stringContaining('may have been an approval or a denial'),
      details: { possibleAnswers: ['approved', 'denied'], askedAgainAfterLostAnswer: false },
    });
    expect(decision).toMatchObject({ message: expect.stringContaining('askAgain.afterLostAnswer is off') });
  });

  it('asks again at once after a lost answer when the policy opts in', () => {
    expect(nextAsk(lost, 1, reasking, T0, DEADLINE)).toEqual({ kind: 'ask', reason: 'lost_token_response', atMs: T0 });
  });

  it('fails ApprovalExpired / ApprovalLost when no ask is left', () => {
    expect(nextAsk(expired, 3, policy, T0, DEADLINE)).toMatchObject({
      kind: 'fail',
      type: ApprovalFailureType.Expired,
    });
    expect(nextAsk(lost, 3, reasking, T0, DEADLINE)).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Lost });
    expect(nextAsk(expired, 1, { ...policy, maxAsks: 1, delayBetweenAsks: 0 }, T0, DEADLINE)).toMatchObject({
      kind: 'fail',
    });
  });

  it('fails when the next ask would come at or after the approval deadline', () => {
    expect(nextAsk(expired, 1, policy, T0, T0 + 60_000)).toMatchObject({
      kind: 'fail',
      type: ApprovalFailureType.Expired,
    });
    expect(nextAsk(lost, 1, reasking, T0 + 1, T0)).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Lost });
  });
});
