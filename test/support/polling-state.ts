import type { PollingState } from '../../common/polling';

/** An ask being polled, asked at `askedAtMs`: 5 s interval, 5 minutes to live, no polls yet; `overrides` on top. */
export function pollingState(askedAtMs: number, overrides: Partial<PollingState> = {}): PollingState {
  return {
    authReqId: 'req-1',
    intervalSeconds: 5,
    askedAtMs,
    expiresAtMs: askedAtMs + 300_000,
    polls: 0,
    slowDowns: 0,
    ...overrides,
  };
}
