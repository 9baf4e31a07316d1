/**
 * The compact polling loop (activities/compact-polling.ts) on a virtual clock: the same cadence and answers as timer
 * mode, heartbeats that resume after a crash, and transient faults retried inside.
 */
import type { PollOutcome } from '../activities/ciba-protocol';
import {
  pollUntilDecided,
  COMPACT_HEARTBEAT_EVERY_MS,
  REQUESTED_HEARTBEAT_DELAYS_MS,
  UNREACHABLE_GRACE_MS,
  type CompactPollEffects,
  type CompactPollProgress,
  type TransientFault,
} from '../activities/compact-polling';
import { PingWakeups } from '../activities/ping-wakeups';
import { recordPolls, firstRun, recordAsk, recordTierPolls } from '../workflows/approval-state';
import {
  interpretPollAnswer,
  SLOW_DOWN_INCREMENT_SECONDS,
  SLOW_POLL_SECONDS,
  type PollingState,
} from '../common/polling';
import { pollingState } from './support/polling-state';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const DEADLINE = T0 + 86_400_000;
const tokens = { tokenType: 'bearer', accessToken: 'at' };

const polling = (overrides: Partial<PollingState> = {}) => pollingState(T0, overrides);

type Answer = PollOutcome | { kind: 'fault'; fault: TransientFault };

/** A virtual clock and a scripted provider; records when each poll happened and every heartbeat. */
function scripted(answers: Answer[], startMs = T0) {
  let now = startMs;
  const pollTimes: number[] = [];
  const heartbeats: CompactPollProgress[] = [];
  const heartbeatTimes: number[] = [];
  const effects: CompactPollEffects = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    heartbeat: (progress) => {
      heartbeats.push(progress);
      heartbeatTimes.push(now);
    },
    poll: async () => {
      pollTimes.push(now);
      const answer = answers.shift();
      if (!answer) throw new Error('the script ran out of answers');
      return answer;
    },
  };
  return { effects, pollTimes, heartbeats, heartbeatTimes, now: () => now };
}

const pending: PollOutcome = { kind: 'authorization_pending' };

describe('pollUntilDecided', () => {
  it("polls at the provider's interval until a final answer, and returns it with the state before it", async () => {
    const run = scripted([pending, pending, { kind: 'approved', tokens }]);
    const result = await pollUntilDecided({ polling: polling(), approvalDeadlineMs: DEADLINE }, run.effects);
    expect(run.pollTimes.map((t) => (t - T0) / 1000)).toEqual([5, 10, 15]);
    expect(result).toEqual({
      polling: polling({ polls: 2 }),
      answer: { kind: 'approved', tokens },
      polledAtMs: T0 + 15_000,
    });
  });

  it('grows the interval on slow_down for every later poll, as timer mode does', async () => {
    const run = scripted([pending, { kind: 'slow_down' }, pending, { kind: 'access_denied' }]);
    const result = await pollUntilDecided({ polling: polling(), approvalDeadlineMs: DEADLINE }, run.effects);
    const slowed = 5 + SLOW_DOWN_INCREMENT_SECONDS;
    expect(run.pollTimes.map((t) => (t - T0) / 1000)).toEqual([5, 10, 10 + slowed, 10 + 2 * slowed]);
    expect(result.polling).toMatchObject({ polls: 3, slowDowns: 1, intervalSeconds: slowed });
    expect(interpretPollAnswer(result.polling, result.answer, result.polledAtMs, DEADLINE).kind).toBe('denied');
  });

  it('ends at the expiry with the answer that says so', async () => {
    const ask = polling({ expiresAtMs: T0 + 12_000 });
    const run = scripted([pending, pending, pending]);
    const result = await pollUntilDecided({ polling: ask, approvalDeadlineMs: DEADLINE }, run.effects);
    expect(run.pollTimes.map((t) => (t - T0) / 1000)).toEqual([5, 10, 15]);
    expect(interpretPollAnswer(result.polling, result.answer, result.polledAtMs, DEADLINE)).toMatchObject({
      kind: 'ask_ended',
      reason: 'expired',
    });
  });

  it('retries transient faults inside, backing off from the interval and honouring Retry-After', async () => {
    const fault = (retryAfterSeconds?: number): Answer => ({
      kind: 'fault',
      fault: { message: 'HTTP 503', retryAfterSeconds },
    });
    const run = scripted([fault(), fault(), fault(42), { kind: 'approved', tokens }]);
    const result = await pollUntilDecided({ polling: polling(), approvalDeadlineMs: DEADLINE }, run.effects);
    expect(run.pollTimes.map((t) => (t - T0) / 1000)).toEqual([5, 10, 20, 62]);
    expect(result.answer.kind).toBe('approved');
    expect(run.heartbeats.some((h) => h.lastAnswer === 'provider_unavailable')).toBe(true);
  });

  it('reads an unreachable provider past the expiry (and a grace) as an expired request', async () => {
    const ask = polling({ expiresAtMs: T0 + 10_000 });
    const answers: Answer[] = Array.from({ length: 50 }, () => ({ kind: 'fault', fault: { message: 'ECONNREFUSED' } }));
    const run = scripted(answers);
    const result = await pollUntilDecided({ polling: ask, approvalDeadlineMs: DEADLINE }, run.effects);
    expect(result.answer).toMatchObject({ kind: 'expired_token' });
    expect(result.polledAtMs).toBeGreaterThanOrEqual(ask.expiresAtMs + UNREACHABLE_GRACE_MS);
  });

  it('heartbeats while it waits, at least every COMPACT_HEARTBEAT_EVERY_MS', async () => {
    const slow = polling({ intervalSeconds: 45 });
    const run = scripted([{ kind: 'approved', tokens }]);
    await pollUntilDecided({ polling: slow, approvalDeadlineMs: DEADLINE }, run.effects);
    expect(run.heartbeats.length).toBeGreaterThanOrEqual(Math.floor(45_000 / COMPACT_HEARTBEAT_EVERY_MS));
  });

  it('resumes from the last heartbeat after a crash: the grown interval, the polls so far, no poll before the interval', async () => {
    const first = scripted([pending, { kind: 'slow_down' }, pending]);
    first.effects.poll = async () => {
      const answers: PollOutcome[] = [pending, { kind: 'slow_down' }];
      first.pollTimes.push(first.now());
      const answer = answers[first.pollTimes.length - 1];
      if (!answer) throw new Error('worker killed');
      return answer;
    };
    await expect(pollUntilDecided({ polling: polling(), approvalDeadlineMs: DEADLINE }, first.effects)).rejects.toThrow(
      'worker killed',
    );
    const lastHeartbeat = first.heartbeats[first.heartbeats.length - 1]!;
    expect(lastHeartbeat.polling).toMatchObject({ polls: 2, slowDowns: 1, intervalSeconds: 10 });

    // The retry starts 1 s after the last poll was answered: its first poll waits for the (grown) interval.
    const retry = scripted([{ kind: 'approved', tokens }], lastHeartbeat.lastPollAtMs! + 1_000);
    const result = await pollUntilDecided(
      { polling: polling(), approvalDeadlineMs: DEADLINE },
      retry.effects,
      lastHeartbeat,
    );
    expect(retry.pollTimes).toEqual([lastHeartbeat.lastPollAtMs! + 10_000]);
    expect(result.polling).toMatchObject({ polls: 2, slowDowns: 1 });
  });
});

describe('pollUntilDecided in tiers', () => {
  const HOUR = 3_600_000;
  const longAsk = (overrides: Partial<PollingState> = {}) => polling({ expiresAtMs: T0 + 24 * HOUR, ...overrides });
  const pendings = (n: number): Answer[] => Array.from({ length: n }, () => pending);

  it('fast tier: polls at the interval and hands over where it stands when the tier ends undecided', async () => {
    const run = scripted(pendings(100));
    const result = await pollUntilDecided(
      { polling: longAsk(), approvalDeadlineMs: DEADLINE, tier: { kind: 'fast', endsAtMs: T0 + 60_000 } },
      run.effects,
    );
    expect(run.pollTimes.map((t) => (t - T0) / 1000)).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
    expect(result).toEqual({
      tierEnded: {
        polling: longAsk({ polls: 12 }),
        lastPollAtMs: T0 + 60_000,
        lastAnswer: 'authorization_pending',
        faultsInARow: 0,
      },
    });
    // One per COMPACT_HEARTBEAT_EVERY_MS of waiting, with the latest progress; not one per poll.
    expect(run.heartbeats).toHaveLength(60_000 / COMPACT_HEARTBEAT_EVERY_MS);
    expect(run.heartbeats[run.heartbeats.length - 1]!.polling.polls).toBe(11);
  });

  it('fast tier: a final answer within the tier is returned as untiered', async () => {
    const run = scripted([pending, { kind: 'approved', tokens }]);
    const result = await pollUntilDecided(
      { polling: longAsk(), approvalDeadlineMs: DEADLINE, tier: { kind: 'fast', endsAtMs: T0 + 60_000 } },
      run.effects,
    );
    expect(result).toMatchObject({ answer: { kind: 'approved' }, polledAtMs: T0 + 10_000 });
  });

  it(`slow tier: polls every ${SLOW_POLL_SECONDS}s but heartbeats only every heartbeatEveryMs`, async () => {
    const fastEnd = { polling: longAsk({ polls: 60 }), lastPollAtMs: T0 + 300_000, faultsInARow: 0 };
    const run = scripted([...pendings(240), { kind: 'approved', tokens }], T0 + 300_500);
    const result = await pollUntilDecided(
      {
        polling: fastEnd.polling,
        approvalDeadlineMs: DEADLINE,
        tier: { kind: 'slow', heartbeatEveryMs: 15 * 60_000 },
        resumeFrom: fastEnd,
      },
      run.effects,
    );
    // No poll sooner than the cadence after the fast tier's last one, then one every SLOW_POLL_SECONDS.
    expect((run.pollTimes[0]! - fastEnd.lastPollAtMs) / 1000).toBe(SLOW_POLL_SECONDS);
    const gaps = run.pollTimes.slice(1).map((t, i) => (t - run.pollTimes[i]!) / 1000);
    expect(new Set(gaps)).toEqual(new Set([SLOW_POLL_SECONDS]));
    // The decision came in the 241st poll, two hours in: seen within one poll of it, with 8 heartbeats, not 241.
    expect(result).toMatchObject({ answer: { kind: 'approved' }, polling: { polls: 300 } });
    expect(run.heartbeats.length).toBe(8);
    const beats = run.heartbeats.map((h) => h.lastPollAtMs);
    expect(beats[beats.length - 1]).toBeGreaterThan(beats[0]!); // each carries the latest progress
  });

  it('slow tier: heartbeats at once after a slow_down, so that a retry keeps the grown interval', async () => {
    const run = scripted([pending, { kind: 'slow_down' }, pending, { kind: 'approved', tokens }]);
    await pollUntilDecided(
      { polling: longAsk(), approvalDeadlineMs: DEADLINE, tier: { kind: 'slow', heartbeatEveryMs: 15 * 60_000 } },
      run.effects,
    );
    expect(run.heartbeats).toHaveLength(1);
    expect(run.heartbeats[0]!.polling).toMatchObject({ polls: 2, slowDowns: 1, intervalSeconds: 10 });
  });

  it('slow tier: heartbeats a second after it is asked to (a cancelled workflow), and keeps waiting', async () => {
    const run = scripted([pending, { kind: 'approved', tokens }]);
    const sleep = run.effects.sleep;
    let asked = false;
    run.effects.sleep = async (ms) => {
      if (!asked && run.pollTimes.length === 1) {
        asked = true;
        await sleep(1_000);
        return 'heartbeat';
      }
      return sleep(ms);
    };
    const result = await pollUntilDecided(
      { polling: longAsk(), approvalDeadlineMs: DEADLINE, tier: { kind: 'slow', heartbeatEveryMs: 15 * 60_000 } },
      run.effects,
    );
    expect(run.heartbeatTimes).toEqual([run.pollTimes[0]! + 1_000 + REQUESTED_HEARTBEAT_DELAYS_MS[0]!]);
    expect(run.heartbeats[0]!.lastPollAtMs).toBe(run.pollTimes[0]);
    // The poll after it still comes at the cadence, not at the heartbeat.
    expect((run.pollTimes[1]! - run.pollTimes[0]!) / 1000).toBe(SLOW_POLL_SECONDS);
    expect(result).toMatchObject({ polledAtMs: run.pollTimes[1] });
  });

  it('slow tier: asked to heartbeat, sends one more after the SDK throttle interval, in case the first was early', async () => {
    const run = scripted([pending, pending, pending, pending, { kind: 'approved', tokens }]);
    const sleep = run.effects.sleep;
    let asked = false;
    run.effects.sleep = async (ms) => {
      if (!asked && run.pollTimes.length === 1) {
        asked = true;
        return 'heartbeat';
      }
      return sleep(ms);
    };
    await pollUntilDecided(
      { polling: longAsk(), approvalDeadlineMs: DEADLINE, tier: { kind: 'slow', heartbeatEveryMs: 15 * 60_000 } },
      run.effects,
    );
    expect(run.heartbeatTimes).toEqual(REQUESTED_HEARTBEAT_DELAYS_MS.map((delay) => run.pollTimes[0]! + delay));
  });

  it('slow tier: a retry resumes from the last heartbeat rather than from the fast tier', async () => {
    const lastHeartbeat = { polling: longAsk({ polls: 90 }), lastPollAtMs: T0 + 1_200_000, faultsInARow: 0 };
    const retry = scripted([{ kind: 'approved', tokens }], T0 + 1_250_000);
    const result = await pollUntilDecided(
      {
        polling: longAsk({ polls: 60 }),
        approvalDeadlineMs: DEADLINE,
        tier: { kind: 'slow', heartbeatEveryMs: 15 * 60_000 },
        resumeFrom: { polling: longAsk({ polls: 60 }), lastPollAtMs: T0 + 300_000, faultsInARow: 0 },
      },
      retry.effects,
      lastHeartbeat,
    );
    expect(retry.pollTimes).toEqual([T0 + 1_250_000]); // overdue since the heartbeat's poll: at once
    expect(result).toMatchObject({ polling: { polls: 90 } });
  });

  it("recordTierPolls: the fast tier's polls count, and the ask's state is where it left off", () => {
    const asked = recordAsk(firstRun(86_400, T0), 'first', { authReqId: 'req-1', expiresIn: 3_600, interval: 5 }, T0);
    const after = recordTierPolls(asked, {
      polling: { ...asked.polling!, polls: 60, slowDowns: 1, intervalSeconds: 10 },
      lastPollAtMs: T0 + 300_000,
      lastAnswer: 'authorization_pending',
      faultsInARow: 0,
    });
    expect(after).toMatchObject({ polls: 60, slowDowns: 1, lastPollOutcome: 'authorization_pending' });
    expect(after.polling).toMatchObject({ polls: 60, intervalSeconds: 10 });
    expect(after.lastPollAt).toBe(new Date(T0 + 300_000).toISOString());
  });
});

describe('recordPolls', () => {
  it('counts every poll the activity made and its slow_downs, as timer mode would one by one', () => {
    const asked = recordAsk(firstRun(86_400, T0), 'first', { authReqId: 'req-1', expiresIn: 300, interval: 5 }, T0);
    const result = {
      polling: { ...asked.polling!, polls: 6, slowDowns: 2, intervalSeconds: 15 },
      answer: { kind: 'approved' as const, tokens },
      polledAtMs: T0 + 60_000,
    };
    const decision = interpretPollAnswer(result.polling, result.answer, result.polledAtMs, DEADLINE);
    const after = recordPolls(asked, result, decision);
    expect(after).toMatchObject({ polls: 7, slowDowns: 2, lastPollOutcome: 'approved' });
    expect(after.lastPollAt).toBe(new Date(T0 + 60_000).toISOString());
  });
});

describe('PingWakeups', () => {
  it('wakes the loop of the named approval and ask, once', () => {
    const wakeups = new PingWakeups();
    const woken: string[] = [];
    const unregister = wakeups.register('wf-1', 'req-1', () => woken.push('wf-1/req-1'));
    wakeups.register('wf-2', 'req-1', () => woken.push('wf-2/req-1'));
    expect(wakeups.wake('wf-1', 'req-2')).toBe(false); // another ask of that approval
    expect(wakeups.wake('wf-1', 'req-1')).toBe(true);
    expect(wakeups.wake('wf-1', 'req-1')).toBe(false); // a repeated ping
    expect(woken).toEqual(['wf-1/req-1']);
    unregister();
    expect(wakeups.wake('wf-2', 'req-1')).toBe(true);
  });

  it('forgets a loop that ended', () => {
    const wakeups = new PingWakeups();
    const unregister = wakeups.register('wf-1', 'req-1', () => undefined);
    unregister();
    expect(wakeups.wake('wf-1', 'req-1')).toBe(false);
  });
});
