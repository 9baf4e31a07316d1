/**
 * How often an approval polls and heartbeats while it waits, per mode and tier (common/polling.ts): pure functions,
 * on fixed times. docs/waiting-costs.md turns these cadences into Temporal actions per approval-day.
 */
import {
  DEFAULT_COMPACT_TIERS,
  FAST_POLLING_WINDOW_SECONDS,
  nextPollDelaySeconds,
  PING_FALLBACK_POLL_SECONDS,
  SLOW_POLL_SECONDS,
  slowTierHeartbeatTimeoutMs,
  startPolling,
  TIMER_IDLE_AFTER_SECONDS,
  TIMER_IDLE_POLL_SECONDS,
  timerSlowSeconds,
} from '../common/polling';
import { pollingState } from './support/polling-state';

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const DAY = 86_400_000;
const ask = pollingState(T0, { expiresAtMs: T0 + DAY });
const afterFastWindow = T0 + FAST_POLLING_WINDOW_SECONDS * 1000;

describe('nextPollDelaySeconds', () => {
  it("polls at the provider's interval in the fast window, every SLOW_POLL_SECONDS after it", () => {
    expect(nextPollDelaySeconds(ask, T0 + 10_000, T0 + DAY)).toBe(5);
    expect(nextPollDelaySeconds(ask, afterFastWindow, T0 + DAY)).toBe(SLOW_POLL_SECONDS);
  });

  it('timer mode with ping: a fallback poll every PING_FALLBACK_POLL_SECONDS after the fast window only', () => {
    const slow = (nowMs: number) => nextPollDelaySeconds(ask, nowMs, T0 + DAY, undefined, PING_FALLBACK_POLL_SECONDS);
    expect(slow(T0 + 10_000)).toBe(5);
    expect(slow(afterFastWindow)).toBe(PING_FALLBACK_POLL_SECONDS);
    // Never past the ask's end: the last poll sees a last-second decision.
    expect(slow(ask.expiresAtMs - 42_000)).toBe(42);
  });

  it('timer mode: 30 s after the fast window, then every TIMER_IDLE_POLL_SECONDS from half an hour on', () => {
    const idleFrom = T0 + TIMER_IDLE_AFTER_SECONDS * 1000;
    const timer = (nowMs: number, idleTier = true, ping = false) =>
      nextPollDelaySeconds(ask, nowMs, T0 + DAY, undefined, timerSlowSeconds(ask, nowMs, { ping, idleTier }));
    expect(timer(T0 + 10_000)).toBe(5);
    expect(timer(afterFastWindow)).toBe(SLOW_POLL_SECONDS);
    expect(timer(idleFrom - 1)).toBe(SLOW_POLL_SECONDS);
    expect(timer(idleFrom)).toBe(TIMER_IDLE_POLL_SECONDS);
    expect(timer(T0 + DAY - 3_600_000)).toBe(TIMER_IDLE_POLL_SECONDS);
    // Never past the ask's end.
    expect(timer(ask.expiresAtMs - 42_000)).toBe(42);
    // Runs from before the patch keep 30 s; with ping, the fallback poll's cadence.
    expect(timer(idleFrom, false)).toBe(SLOW_POLL_SECONDS);
    expect(timer(idleFrom, true, true)).toBe(PING_FALLBACK_POLL_SECONDS);
    // Polls in a day: 60 in the fast window, 50 until half an hour, then one every 2 minutes.
    let polls = 0;
    for (let now = T0; now < T0 + DAY; now += timer(now) * 1000) polls++;
    expect(polls).toBeGreaterThan(800);
    expect(polls).toBeLessThan(830);
  });

  it("a compact tier's fast window ends where the tier says (fastUntilMs)", () => {
    expect(nextPollDelaySeconds(ask, T0 + 10_000, T0 + DAY, T0 + 5_000)).toBe(SLOW_POLL_SECONDS);
    expect(nextPollDelaySeconds(ask, T0 + 10_000, T0 + DAY, 0)).toBe(SLOW_POLL_SECONDS);
    expect(nextPollDelaySeconds(ask, T0 + 10_000, T0 + DAY, T0 + 60_000)).toBe(5);
  });
});

describe('startPolling', () => {
  it('records that the provider pings for this ask, and only then', () => {
    expect(startPolling({ authReqId: 'r', expiresIn: 60, ping: true }, T0).ping).toBe(true);
    expect(startPolling({ authReqId: 'r', expiresIn: 60 }, T0)).not.toHaveProperty('ping');
  });
});

describe('slowTierHeartbeatTimeoutMs', () => {
  it('is the heartbeat period and a third of it (at least 5 s): 20 minutes for the default 15', () => {
    expect(slowTierHeartbeatTimeoutMs(DEFAULT_COMPACT_TIERS)).toBe(20 * 60_000);
    expect(slowTierHeartbeatTimeoutMs({ fastSeconds: 2, slowHeartbeatSeconds: 2 })).toBe(7_000);
  });
});
