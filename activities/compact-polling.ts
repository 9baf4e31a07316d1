/**
 * Compact polling: one long-running activity polls an ask's token endpoint at the provider's interval, inside the
 * worker, until a final answer (Temporal's pattern for frequent polling). The workflow then sees one activity per ask
 * instead of a timer and an activity per poll.
 *
 * The decisions are the workflow's own pure functions (common/polling.ts): the same interval, slow_down and
 * Retry-After handling, the same fast and slow cadence, the same expiry. Progress is heartbeated (polls, interval,
 * last answer), so the UI's pending activity and `ciba status` show it, and a retry after a worker crash resumes
 * from it: the interval never shrinks and no poll comes sooner than the interval after the last one.
 *
 * This module takes its effects as parameters (poll, sleep, heartbeat, clock), so that the loop is tested without a
 * worker; activities.ts binds them to the activity context.
 */
import { interpretPollAnswer, nextPollDelaySeconds, type PollDecision, type PollingState } from '../common/polling';
import type { PollOutcome } from './ciba-protocol';

export interface CompactPollInput {
  /** The ask's polling state when the activity was scheduled. */
  polling: PollingState;
  approvalDeadlineMs: number;
}

/** What each heartbeat carries: enough to resume, and to show where the ask stands. */
export interface CompactPollProgress {
  polling: PollingState;
  /** When the latest poll was answered (epoch ms), absent before the first. */
  lastPollAtMs?: number;
  /** The latest poll's answer, or `provider_unavailable` for a transient fault. */
  lastAnswer?: PollOutcome['kind'] | 'provider_unavailable';
  /** Transient faults in a row (reset by an answer). */
  faultsInARow: number;
}

/** The final answer, with the state it is to be read against: the workflow reads it with interpretPollAnswer. */
export interface CompactPollResult {
  /** The ask's polling state before the final poll (slow_downs and polls so far included). */
  polling: PollingState;
  answer: PollOutcome;
  /** When the final answer came (epoch ms). */
  polledAtMs: number;
}

/** A fault that the next poll may not have: the provider was unreachable, or answered 429/5xx. */
export interface TransientFault {
  message: string;
  retryAfterSeconds?: number;
}

export interface CompactPollEffects {
  now(): number;
  /** Sleeps; rejects when the activity is cancelled; resolves `woken` early when a ping says the user decided. */
  sleep(ms: number): Promise<'woken' | void>;
  heartbeat(progress: CompactPollProgress): void;
  /** One poll: a protocol answer, or a transient fault; anything else thrown ends the activity. */
  poll(authReqId: string): Promise<PollOutcome | { kind: 'fault'; fault: TransientFault }>;
}

/** Heartbeats at least this often while waiting, so that a worker's death is noticed within the heartbeat timeout. */
export const COMPACT_HEARTBEAT_EVERY_MS = 10_000;
/** After the ask expired, faults keep being retried this long before the ask counts as expired (as in timer mode). */
export const UNREACHABLE_GRACE_MS = 60_000;

/** Polls until the answer is final; resumes from `resumed` (the last heartbeat of a previous attempt). */
export async function pollUntilDecided(
  input: CompactPollInput,
  effects: CompactPollEffects,
  resumed?: CompactPollProgress,
): Promise<CompactPollResult> {
  let progress: CompactPollProgress = resumed ?? { polling: input.polling, faultsInARow: 0 };
  let nextPollAtMs = progress.lastPollAtMs ?? effects.now();
  nextPollAtMs += delayMs(progress, effects.now(), input.approvalDeadlineMs);
  for (;;) {
    await sleepUntil(nextPollAtMs, progress, effects);
    const answer = await effects.poll(progress.polling.authReqId);
    const polledAtMs = effects.now();
    if (answer.kind === 'fault') {
      if (polledAtMs >= progress.polling.expiresAtMs + UNREACHABLE_GRACE_MS) {
        const description = `the provider could not be polled before the request expired (${answer.fault.message})`;
        return { polling: progress.polling, answer: { kind: 'expired_token', description }, polledAtMs };
      }
      progress = {
        ...progress,
        lastPollAtMs: polledAtMs,
        lastAnswer: 'provider_unavailable',
        faultsInARow: progress.faultsInARow + 1,
      };
      effects.heartbeat(progress);
      nextPollAtMs = polledAtMs + faultDelayMs(progress, answer.fault);
      continue;
    }
    const decision: PollDecision = interpretPollAnswer(progress.polling, answer, polledAtMs, input.approvalDeadlineMs);
    if (decision.kind !== 'poll_again') return { polling: progress.polling, answer, polledAtMs };
    progress = { polling: decision.state, lastPollAtMs: polledAtMs, lastAnswer: answer.kind, faultsInARow: 0 };
    effects.heartbeat(progress);
    nextPollAtMs = polledAtMs + delayMs(progress, polledAtMs, input.approvalDeadlineMs);
  }
}

function delayMs(progress: CompactPollProgress, nowMs: number, approvalDeadlineMs: number): number {
  return nextPollDelaySeconds(progress.polling, nowMs, approvalDeadlineMs) * 1000;
}

/** After a transient fault: the interval, doubled per fault in a row up to a minute (or the interval), or Retry-After. */
function faultDelayMs(progress: CompactPollProgress, fault: TransientFault): number {
  const interval = progress.polling.intervalSeconds;
  const backoff = Math.min(interval * 2 ** (progress.faultsInARow - 1), Math.max(60, interval));
  return Math.max(backoff, fault.retryAfterSeconds ?? 0) * 1000;
}

/** Waits until `atMs` (or a ping), heartbeating every COMPACT_HEARTBEAT_EVERY_MS. */
async function sleepUntil(atMs: number, progress: CompactPollProgress, effects: CompactPollEffects): Promise<void> {
  for (let left = atMs - effects.now(); left > 0; left = atMs - effects.now()) {
    const woken = await effects.sleep(Math.min(left, COMPACT_HEARTBEAT_EVERY_MS));
    effects.heartbeat(progress);
    if (woken === 'woken') return;
  }
}
