import { decide, slowedDownInterval, startPolling, DEFAULT_INTERVAL_SECONDS, type PollingState } from '../workflows/polling';
import { ApprovalFailureType } from '../common/approval';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const tokens = { tokenType: 'bearer', accessToken: 'at' };

function state(overrides: Partial<PollingState> = {}): PollingState {
  return { authReqId: 'req-1', intervalSeconds: 5, expiresAtMs: T0 + 300_000, polls: 0, slowDowns: 0, ...overrides };
}

describe('startPolling', () => {
  it('uses the provider interval and computes the expiry from expires_in', () => {
    expect(startPolling({ authReqId: 'a', expiresIn: 120, interval: 2 }, T0)).toEqual({
      authReqId: 'a',
      intervalSeconds: 2,
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

describe('decide', () => {
  it('polls again on authorization_pending before expiry, counting the poll', () => {
    expect(decide(state(), { kind: 'authorization_pending' }, T0 + 5_000)).toEqual({
      kind: 'poll_again',
      state: state({ polls: 1 }),
    });
  });

  it('expires on authorization_pending at or after the deadline', () => {
    const decision = decide(state(), { kind: 'authorization_pending' }, T0 + 300_000);
    expect(decision).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Expired });
  });

  it('adds 5 s to the interval on slow_down, and keeps it for later polls', () => {
    const first = decide(state(), { kind: 'slow_down' }, T0 + 5_000);
    expect(first).toEqual({ kind: 'poll_again', state: state({ polls: 1, slowDowns: 1, intervalSeconds: 10 }) });
    if (first.kind !== 'poll_again') throw new Error('unreachable');
    const next = decide(first.state, { kind: 'authorization_pending' }, T0 + 15_000);
    expect(next).toMatchObject({ kind: 'poll_again', state: { intervalSeconds: 10, polls: 2 } });
  });

  it("takes the provider's interval or Retry-After on slow_down when larger than +5 s", () => {
    expect(slowedDownInterval(5, { interval: 30 })).toBe(30);
    expect(slowedDownInterval(5, { retryAfterSeconds: 12 })).toBe(12);
    expect(slowedDownInterval(5, { interval: 7, retryAfterSeconds: 8 })).toBe(10);
    expect(slowedDownInterval(20, { interval: 3 })).toBe(25);
  });

  it('returns the tokens on approval', () => {
    expect(decide(state(), { kind: 'approved', tokens }, T0 + 5_000)).toEqual({ kind: 'approved', tokens });
  });

  it('returns the tokens on approval even after the deadline (the user approved in time)', () => {
    expect(decide(state(), { kind: 'approved', tokens }, T0 + 400_000)).toEqual({ kind: 'approved', tokens });
  });

  it('fails ApprovalDenied on access_denied before expiry', () => {
    expect(decide(state(), { kind: 'access_denied' }, T0 + 5_000)).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Denied });
  });

  it('reads access_denied after expiry as expiry (Auth0 answers access_denied for both)', () => {
    expect(decide(state(), { kind: 'access_denied' }, T0 + 300_000)).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Expired });
  });

  it('fails ApprovalExpired on expired_token, whenever it comes', () => {
    expect(decide(state(), { kind: 'expired_token' }, T0 + 5_000)).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Expired });
  });

  it('fails ApprovalLost on invalid_grant before expiry, ApprovalExpired after', () => {
    expect(decide(state(), { kind: 'invalid_grant' }, T0 + 5_000)).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Lost });
    expect(decide(state(), { kind: 'invalid_grant' }, T0 + 320_000)).toMatchObject({ kind: 'fail', type: ApprovalFailureType.Expired });
  });

  it('keeps the provider description in the failure message', () => {
    expect(decide(state(), { kind: 'access_denied', description: 'end-user denied' }, T0)).toMatchObject({
      message: expect.stringContaining('end-user denied'),
    });
  });
});
