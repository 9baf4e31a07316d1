/**
 * The approval's bookkeeping, as pure functions: the state a run carries (and hands to the next run when it
 * continues as new), what each ask and poll adds to it, and the status query's answer built from it.
 * No Temporal and no I/O here: unit-tested in test/approval-state.test.ts.
 */
import type { BackchannelAcknowledgment, PollOutcome } from '../activities/ciba-protocol';
import type { CompactPollProgress, CompactPollResult } from '../activities/compact-polling';
import type { ApprovalFailureInfo, ApprovalState, Ask, AskOutcome, AskReason, PollingMode } from '../common/approval';
import type { ApprovalStatus } from '../common/outcomes';
import { startPolling, type CompactTiers, type PollDecision, type PollingState } from './polling';

/** How many of the latest asks the status query (and the carried state) keeps. */
export const RECENT_ASKS = 20;

/** The next ask to send, and when. */
export interface NextAsk {
  reason: AskReason;
  atMs: number;
}

/** Everything a run hands to the next one when it continues as new. */
export interface ApprovalCarryOver {
  approvalDeadlineMs: number;
  /** Asks so far. */
  askCount: number;
  /** The latest asks (at most RECENT_ASKS), so that the state stays small over a 30-day window. */
  asks: Ask[];
  continuedAsNew: number;
  /** Totals over all asks and runs. */
  polls: number;
  slowDowns: number;
  lastPollAt?: string;
  lastPollOutcome?: string;
  /** How this approval polls; absent until chosen (and in state carried by runs before polling modes). */
  pollingMode?: PollingMode;
  /** Compact mode's tiers, from the worker (runs since tiers; absent: one activity per ask, heartbeating often). */
  compactTiers?: CompactTiers;
  /** Exactly one of: the ask being polled, or the next ask to send. */
  polling?: PollingState;
  nextAsk?: NextAsk;
  /** The user's ask gate (workflows/user-asks.ts) while it holds a lease for this approval's current ask. */
  askGate?: string;
}

/**
 * The carried state as runs continued by the code before asks had one name hand it over (`asks` was the count,
 * `attempts` the list; an entry's `attempt` and `requestedAt` are now `number` and `askedAt`).
 */
export interface LegacyCarryOver extends Omit<ApprovalCarryOver, 'askCount' | 'asks'> {
  asks: number;
  attempts: Array<{
    attempt: number;
    reason: AskReason;
    requestedAt: string;
    authReqId?: string;
    expiresAt?: string;
    outcome?: AskOutcome;
  }>;
}

/** The state of a new approval: nothing asked yet, the first ask due now. */
export function firstRun(approvalTimeoutSeconds: number, nowMs: number): ApprovalCarryOver {
  return {
    approvalDeadlineMs: nowMs + approvalTimeoutSeconds * 1000,
    askCount: 0,
    asks: [],
    continuedAsNew: 0,
    polls: 0,
    slowDowns: 0,
    nextAsk: { reason: 'first', atMs: nowMs },
  };
}

/** The carried state in today's shape, whichever code continued the previous run. */
export function fromCarried(carried: ApprovalCarryOver | LegacyCarryOver): ApprovalCarryOver {
  if (!('attempts' in carried)) return carried;
  const { asks: askCount, attempts, ...rest } = carried;
  const asks = attempts.map((entry): Ask => ({
    number: entry.attempt,
    reason: entry.reason,
    askedAt: entry.requestedAt,
    authReqId: entry.authReqId,
    expiresAt: entry.expiresAt,
    outcome: entry.outcome,
  }));
  return { ...rest, askCount, asks };
}

/** The state the next run starts from. */
export function forNextRun(run: ApprovalCarryOver): ApprovalCarryOver {
  return { ...run, continuedAsNew: run.continuedAsNew + 1 };
}

/** The provider acknowledged an ask at `nowMs`: poll it from now on, and keep it among the latest asks. */
export function recordAsk(
  run: ApprovalCarryOver,
  reason: AskReason,
  ack: BackchannelAcknowledgment,
  nowMs: number,
): ApprovalCarryOver {
  const polling = startPolling(ack, nowMs);
  const ask: Ask = {
    number: run.askCount + 1,
    reason,
    askedAt: new Date(nowMs).toISOString(),
    authReqId: ack.authReqId,
    expiresAt: new Date(polling.expiresAtMs).toISOString(),
  };
  return {
    ...run,
    askCount: ask.number,
    asks: [...run.asks.slice(-(RECENT_ASKS - 1)), ask],
    polling,
    nextAsk: undefined,
  };
}

/** One poll of the current ask was answered at `nowMs`; a slow_down grows the interval for good. */
export function recordPoll(
  run: ApprovalCarryOver,
  answer: PollOutcome,
  decision: PollDecision,
  nowMs: number,
): ApprovalCarryOver {
  const polled = {
    ...run,
    polls: run.polls + 1,
    lastPollAt: new Date(nowMs).toISOString(),
    lastPollOutcome: answer.kind,
  };
  if (decision.kind !== 'poll_again') return polled;
  const newSlowDowns = decision.state.slowDowns - (run.polling?.slowDowns ?? 0);
  return { ...polled, slowDowns: run.slowDowns + newSlowDowns, polling: decision.state };
}

/**
 * Compact mode: one activity polled the current ask until its final answer. Its earlier polls (and their slow_downs)
 * count as if polled one by one; the final answer is recorded as one poll.
 */
export function recordPolls(
  run: ApprovalCarryOver,
  result: CompactPollResult,
  decision: PollDecision,
): ApprovalCarryOver {
  const before = run.polling ?? result.polling;
  const caughtUp: ApprovalCarryOver = {
    ...run,
    polls: run.polls + (result.polling.polls - before.polls),
    slowDowns: run.slowDowns + (result.polling.slowDowns - before.slowDowns),
    polling: result.polling,
  };
  return recordPoll(caughtUp, result.answer, decision, result.polledAtMs);
}

/**
 * Compact mode: the fast tier's activity ended without a final answer. Its polls (and slow_downs) count as if polled
 * one by one, and the ask's polling state is where it left off.
 */
export function recordTierPolls(run: ApprovalCarryOver, progress: CompactPollProgress): ApprovalCarryOver {
  const before = run.polling ?? progress.polling;
  return {
    ...run,
    polls: run.polls + (progress.polling.polls - before.polls),
    slowDowns: run.slowDowns + (progress.polling.slowDowns - before.slowDowns),
    polling: progress.polling,
    ...(progress.lastPollAtMs !== undefined && {
      lastPollAt: new Date(progress.lastPollAtMs).toISOString(),
      lastPollOutcome: progress.lastAnswer,
    }),
  };
}

/** How the current (latest) ask ended. */
export function recordAskOutcome(run: ApprovalCarryOver, outcome: AskOutcome): ApprovalCarryOver {
  const current = run.asks[run.asks.length - 1];
  if (!current) return run;
  return { ...run, asks: [...run.asks.slice(0, -1), { ...current, outcome }] };
}

/** The current ask ended undecided: ask again at `next.atMs`. */
export function scheduleAsk(run: ApprovalCarryOver, next: NextAsk): ApprovalCarryOver {
  return { ...run, polling: undefined, nextAsk: { reason: next.reason, atMs: next.atMs } };
}

/** The status query's answer. */
export function statusAnswer(
  bindingMessage: string,
  run: ApprovalCarryOver,
  status: ApprovalStatus,
  failure: ApprovalFailureInfo | undefined,
): ApprovalState {
  return {
    status,
    bindingMessage,
    approvalDeadline: new Date(run.approvalDeadlineMs).toISOString(),
    askCount: run.askCount,
    asks: run.asks,
    continuedAsNew: run.continuedAsNew,
    authReqId: run.polling?.authReqId,
    expiresAt: run.polling && new Date(run.polling.expiresAtMs).toISOString(),
    intervalSeconds: run.polling?.intervalSeconds,
    polls: run.polls,
    slowDowns: run.slowDowns,
    lastPollAt: run.lastPollAt,
    lastPollOutcome: run.lastPollOutcome,
    failure,
  };
}

/** The status query's answer for an input that failed validation: nothing was asked. */
export function invalidInputStatus(input: unknown, failure: ApprovalFailureInfo, nowMs: number): ApprovalState {
  return {
    status: 'failed',
    bindingMessage: String((input as { bindingMessage?: unknown } | undefined)?.bindingMessage ?? ''),
    approvalDeadline: new Date(nowMs).toISOString(),
    askCount: 0,
    asks: [],
    continuedAsNew: 0,
    polls: 0,
    slowDowns: 0,
    failure,
  };
}
