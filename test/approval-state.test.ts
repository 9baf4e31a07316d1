/** The approval's bookkeeping (workflows/approval-state.ts): pure functions, and the state carried across runs. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { temporalSettings } from '../common/config';
import {
  firstRun,
  forNextRun,
  fromCarried,
  invalidInputStatus,
  recordAsk,
  recordAskOutcome,
  recordPoll,
  scheduleAsk,
  statusAnswer,
  RECENT_ASKS,
  type ApprovalCarryOver,
  type LegacyCarryOver,
} from '../workflows/approval-state';
import type { PollingState } from '../workflows/polling';
import { FIXTURE_DIR, FIXTURE_PAYLOAD_KEY } from './replay/fixtures';
import { pollingState } from './support/polling-state';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

const polling = (overrides: Partial<PollingState> = {}) => pollingState(T0, overrides);

/** An approval with one pending ask, as recordAsk leaves it. */
function asked(): ApprovalCarryOver {
  return recordAsk(firstRun(3600, T0), 'first', { authReqId: 'req-1', expiresIn: 300, interval: 5 }, T0);
}

describe('firstRun', () => {
  it('has nothing asked yet, the first ask due now, and the deadline approvalTimeout away', () => {
    expect(firstRun(3600, T0)).toEqual({
      approvalDeadlineMs: T0 + 3_600_000,
      askCount: 0,
      asks: [],
      continuedAsNew: 0,
      polls: 0,
      slowDowns: 0,
      nextAsk: { reason: 'first', atMs: T0 },
    });
  });
});

describe('recordAsk', () => {
  it('numbers the ask, starts polling it and clears the next ask', () => {
    const run = asked();
    expect(run.askCount).toBe(1);
    expect(run.asks).toEqual([
      { number: 1, reason: 'first', askedAt: iso(T0), authReqId: 'req-1', expiresAt: iso(T0 + 300_000) },
    ]);
    expect(run.polling).toEqual(polling());
    expect(run.nextAsk).toBeUndefined();
  });

  it(`keeps the latest ${RECENT_ASKS} asks and counts all of them`, () => {
    let run = firstRun(86_400, T0);
    for (let i = 1; i <= RECENT_ASKS + 5; i++) {
      run = recordAsk(run, i === 1 ? 'first' : 'expired', { authReqId: `req-${i}`, expiresIn: 60 }, T0 + i * 120_000);
    }
    expect(run.askCount).toBe(RECENT_ASKS + 5);
    expect(run.asks).toHaveLength(RECENT_ASKS);
    expect(run.asks.map((ask) => ask.number)).toEqual(Array.from({ length: RECENT_ASKS }, (_, i) => i + 6));
    expect(run.asks[RECENT_ASKS - 1]!.authReqId).toBe(`req-${RECENT_ASKS + 5}`);
  });

  it('does not change the state it was given', () => {
    const before = firstRun(3600, T0);
    const copy = structuredClone(before);
    recordAsk(before, 'first', { authReqId: 'req-1', expiresIn: 300 }, T0);
    expect(before).toEqual(copy);
  });
});

describe('recordPoll', () => {
  it('counts every poll and remembers the last answer', () => {
    const run = recordPoll(
      asked(),
      { kind: 'authorization_pending' },
      { kind: 'poll_again', state: polling({ polls: 1 }) },
      T0 + 5_000,
    );
    expect(run).toMatchObject({
      polls: 1,
      lastPollAt: iso(T0 + 5_000),
      lastPollOutcome: 'authorization_pending',
      slowDowns: 0,
    });
    expect(run.polling).toEqual(polling({ polls: 1 }));
  });

  it('adds slow_downs to the total and keeps the grown interval', () => {
    const slowed = polling({ polls: 1, slowDowns: 1, intervalSeconds: 10 });
    const run = recordPoll(asked(), { kind: 'slow_down' }, { kind: 'poll_again', state: slowed }, T0 + 5_000);
    expect(run.slowDowns).toBe(1);
    expect(run.polling).toEqual(slowed);
  });

  it('leaves the polled ask as it was when the answer ends it', () => {
    const before = asked();
    const run = recordPoll(before, { kind: 'access_denied' }, { kind: 'denied', message: 'no' }, T0 + 5_000);
    expect(run).toMatchObject({ polls: 1, lastPollOutcome: 'access_denied' });
    expect(run.polling).toEqual(before.polling);
  });
});

describe('recordAskOutcome', () => {
  it('records how the latest ask ended', () => {
    const run = recordAskOutcome(asked(), 'approved');
    expect(run.asks).toEqual([expect.objectContaining({ number: 1, outcome: 'approved' })]);
  });

  it('changes only the latest ask, and not the state it was given', () => {
    const two = recordAsk(
      recordAskOutcome(asked(), 'expired'),
      'expired',
      { authReqId: 'req-2', expiresIn: 300 },
      T0 + 360_000,
    );
    const copy = structuredClone(two);
    const run = recordAskOutcome(two, 'denied');
    expect(run.asks.map((ask) => ask.outcome)).toEqual(['expired', 'denied']);
    expect(two).toEqual(copy);
  });

  it('does nothing before the first ask', () => {
    expect(recordAskOutcome(firstRun(60, T0), 'expired').asks).toEqual([]);
  });
});

describe('scheduleAsk and forNextRun', () => {
  it('stops polling the ended ask and schedules the next one', () => {
    const run = scheduleAsk(asked(), { reason: 'expired', atMs: T0 + 360_000 });
    expect(run.polling).toBeUndefined();
    expect(run.nextAsk).toEqual({ reason: 'expired', atMs: T0 + 360_000 });
  });

  it('counts the runs', () => {
    expect(forNextRun(forNextRun(asked())).continuedAsNew).toBe(2);
  });
});

describe('statusAnswer', () => {
  it('reports the current ask and the totals', () => {
    const run = recordPoll(
      asked(),
      { kind: 'authorization_pending' },
      { kind: 'poll_again', state: polling({ polls: 1 }) },
      T0 + 5_000,
    );
    expect(statusAnswer('Pay 1.00 USD', run, 'pending', undefined)).toEqual({
      status: 'pending',
      bindingMessage: 'Pay 1.00 USD',
      approvalDeadline: iso(T0 + 3_600_000),
      askCount: 1,
      asks: run.asks,
      continuedAsNew: 0,
      authReqId: 'req-1',
      expiresAt: iso(T0 + 300_000),
      intervalSeconds: 5,
      polls: 1,
      slowDowns: 0,
      lastPollAt: iso(T0 + 5_000),
      lastPollOutcome: 'authorization_pending',
      failure: undefined,
    });
  });

  it('has no current ask between asks, and carries the failure', () => {
    const failure = { type: 'ApprovalExpired' as const, message: 'the request expired' };
    const answer = statusAnswer('m', scheduleAsk(asked(), { reason: 'expired', atMs: T0 }), 'expired', failure);
    expect(answer).toMatchObject({
      status: 'expired',
      authReqId: undefined,
      expiresAt: undefined,
      intervalSeconds: undefined,
      failure,
    });
  });

  it('answers for an input that failed validation', () => {
    const failure = { type: 'InvalidApprovalRequest' as const, message: 'bindingMessage: required' };
    expect(invalidInputStatus({ bindingMessage: 'Pay' }, failure, T0)).toEqual({
      status: 'failed',
      bindingMessage: 'Pay',
      approvalDeadline: iso(T0),
      askCount: 0,
      asks: [],
      continuedAsNew: 0,
      polls: 0,
      slowDowns: 0,
      failure,
    });
    expect(invalidInputStatus(undefined, failure, T0).bindingMessage).toBe('');
  });
});

describe('fromCarried', () => {
  const legacy: LegacyCarryOver = {
    approvalDeadlineMs: T0 + 86_400_000,
    asks: 2,
    attempts: [
      {
        attempt: 1,
        reason: 'first',
        requestedAt: iso(T0),
        authReqId: 'req-1',
        expiresAt: iso(T0 + 300_000),
        outcome: 'expired',
      },
      {
        attempt: 2,
        reason: 'expired',
        requestedAt: iso(T0 + 360_000),
        authReqId: 'req-2',
        expiresAt: iso(T0 + 660_000),
      },
    ],
    continuedAsNew: 3,
    polls: 70,
    slowDowns: 1,
    lastPollAt: iso(T0 + 400_000),
    lastPollOutcome: 'authorization_pending',
    polling: polling({ authReqId: 'req-2', askedAtMs: T0 + 360_000, expiresAtMs: T0 + 660_000, polls: 8 }),
  };

  it('reads the shape that runs continued by the previous code carry (asks = count, attempts = list)', () => {
    expect(fromCarried(legacy)).toEqual({
      approvalDeadlineMs: T0 + 86_400_000,
      askCount: 2,
      asks: [
        {
          number: 1,
          reason: 'first',
          askedAt: iso(T0),
          authReqId: 'req-1',
          expiresAt: iso(T0 + 300_000),
          outcome: 'expired',
        },
        { number: 2, reason: 'expired', askedAt: iso(T0 + 360_000), authReqId: 'req-2', expiresAt: iso(T0 + 660_000) },
      ],
      continuedAsNew: 3,
      polls: 70,
      slowDowns: 1,
      lastPollAt: iso(T0 + 400_000),
      lastPollOutcome: 'authorization_pending',
      polling: legacy.polling,
    });
  });

  it('passes the current shape through unchanged', () => {
    const current = forNextRun(asked());
    expect(fromCarried(current)).toBe(current);
  });

  it('reads the carried state of the recorded continue-as-new runs', async () => {
    const codec = temporalSettings({ CIBA_PAYLOAD_KEY: FIXTURE_PAYLOAD_KEY }).payloadCodec;
    for (const file of ['continue-as-new.run2.binpb', 'continue-as-new.run3.binpb']) {
      const history = proto.api.history.v1.History.decode(readFileSync(path.join(FIXTURE_DIR, file)));
      const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
      const [, carried] = await codec.decode(input as Parameters<typeof codec.decode>[0]);
      const run = fromCarried(defaultPayloadConverter.fromPayload<LegacyCarryOver>(carried!));
      expect(run.askCount).toBe(1);
      expect(run.asks).toEqual([
        expect.objectContaining({
          number: 1,
          reason: 'first',
          askedAt: expect.any(String),
          authReqId: run.polling?.authReqId,
        }),
      ]);
      expect(run).not.toHaveProperty('attempts');
    }
  });
});
