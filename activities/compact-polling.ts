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

/**
 * Which tier of the ask's wait an activity polls in (runs since tiers; absent: one activity for the whole ask).
 *
 * - fast: the first minutes after the ask, while the user most likely looks at the prompt. Polls at the provider's
 *   interval, heartbeats every COMPACT_HEARTBEAT_EVERY_MS (a dead worker is noticed within the workflow's short
 *   heartbeat timeout), and returns `{ tierEnded }` at `endsAtMs` when nothing was decided.
 * - slow: the rest of the ask. Polls as often as before (SLOW_POLL_SECONDS, so decisions are seen within it), but
 *   heartbeats only every `heartbeatEveryMs` (each recorded heartbeat is a billed Temporal action), at once after a
 *   slow_down (the grown interval must survive a crash), and when asked to (`sleep` resolving `heartbeat`: the
 *   workflow was cancelled, and the heartbeat's answer carries the cancellation).
 */
export type CompactTier = { kind: 'fast'; endsAtMs: number } | { kind: 'slow'; heartbeatEveryMs: number };

export interface CompactPollInput {
  /** The ask's polling state when the activity was scheduled. */
  polling: PollingState;
  approvalDeadlineMs: number;
  tier?: CompactTier;
  /** Where the fast tier's activity left off, for the slow tier's (absent before tiers, and in the fast tier). */
  resumeFrom?: CompactPollProgress;
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

/** The fast tier ended without a final answer: the slow tier's activity goes on from `tierEnded`. */
export interface CompactTierEnded {
  tierEnded: CompactPollProgress;
}

/** What a tiered activity returns: the final answer, or the end of its (fast) tier. */
export type CompactTierResult = CompactPollResult | CompactTierEnded;

/** A fault that the next poll may not have: the provider was unreachable, or answered 429/5xx. */
export interface TransientFault {
  message: string;
  retryAfterSeconds?: number;
}

export interface CompactPollEffects {
  now(): number;
  /**
   * Sleeps; rejects when the activity is cancelled. Resolves early `woken` when a ping says the user decided (poll
   * now), `heartbeat` when the workflow asks for a heartbeat now (it was cancelled: the heartbeat's answer says so).
   */
  sleep(ms: number): Promise<'woken' | 'heartbeat' | void>;
  heartbeat(progress: CompactPollProgress): void;
  /** One poll: a protocol answer, or a transient fault; anything else thrown ends the activity. */
  poll(authReqId: string): Promise<PollOutcome | { kind: 'fault'; fault: TransientFault }>;
}

/** Heartbeats at least this often while waiting, so that a worker's death is noticed within the heartbeat timeout. */
export const COMPACT_HEARTBEAT_EVERY_MS = 10_000;
/**
 * When a heartbeat the workflow asked for is sent: a second after the request (once the workflow task that cancels the
 * activity has completed), and again after the SDK's longest heartbeat throttle interval (60 s by default).
 */
export const REQUESTED_HEARTBEAT_DELAYS_MS = [1_000, 61_000];
/** After the ask expired, faults keep being retried this long before the ask counts as expired (as in timer mode). */
export const UNREACHABLE_GRACE_MS = 60_000;

/**
 * Polls until the answer is final; resumes from `resumed` (the last heartbeat of a previous attempt), else from
 * `input.resumeFrom`. In the fast tier, returns `{ tierEnded }` once the tier is over and nothing was decided.
 */
export async function pollUntilDecided(
  input: CompactPollInput & { tier?: undefined },
  effects: CompactPollEffects,
  resumed?: CompactPollProgress,
): Promise<CompactPollResult>;
export async function pollUntilDecided(
  input: CompactPollInput,
  effects: CompactPollEffects,
  resumed?: CompactPollProgress,
): Promise<CompactTierResult>;
export async function pollUntilDecided(
  input: CompactPollInput,
  effects: CompactPollEffects,
  resumed?: CompactPollProgress,
): Promise<CompactTierResult> {
  const heartbeats = new Heartbeats(input.tier, effects);
  let progress: CompactPollProgress = resumed ?? input.resumeFrom ?? { polling: input.polling, faultsInARow: 0 };
  const fastUntilMs = fastUntil(input);
  let nextPollAtMs = progress.lastPollAtMs ?? effects.now();
  nextPollAtMs += delayMs(progress, effects.now(), input.approvalDeadlineMs, fastUntilMs);
  for (;;) {
    if (tierOver(input, effects.now())) return { tierEnded: heartbeats.last(progress) };
    await sleepUntil(nextPollAtMs, progress, effects, heartbeats);
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
      heartbeats.progressed(progress);
      nextPollAtMs = polledAtMs + faultDelayMs(progress, answer.fault);
      continue;
    }
    const decision: PollDecision = interpretPollAnswer(progress.polling, answer, polledAtMs, input.approvalDeadlineMs);
    if (decision.kind !== 'poll_again') return { polling: progress.polling, answer, polledAtMs };
    const slowedDown = decision.state.intervalSeconds !== progress.polling.intervalSeconds;
    progress = { polling: decision.state, lastPollAtMs: polledAtMs, lastAnswer: answer.kind, faultsInARow: 0 };
    heartbeats.progressed(progress, { now: slowedDown });
    nextPollAtMs = polledAtMs + delayMs(progress, polledAtMs, input.approvalDeadlineMs, fastUntilMs);
  }
}

/**
 * When the loop heartbeats: every COMPACT_HEARTBEAT_EVERY_MS (untiered and fast tier) or `heartbeatEveryMs` (slow
 * tier) of waiting, carrying the latest progress; at once for a state that must survive a crash (a grown interval);
 * and when asked. Not after every poll: each call is encoded and encrypted in the worker even when the SDK then
 * throttles it (it sends at most one per 0.8 × the heartbeat timeout, and per maxHeartbeatThrottleInterval).
 */
class Heartbeats {
  private lastAtMs: number;
  private latest?: CompactPollProgress;
  /** Heartbeats asked for (a cancelled workflow), due at these times. */
  private requested: number[] = [];
  readonly everyMs: number;

  constructor(
    private readonly tier: CompactTier | undefined,
    private readonly effects: CompactPollEffects,
  ) {
    this.lastAtMs = effects.now();
    this.everyMs = tier?.kind === 'slow' ? tier.heartbeatEveryMs : COMPACT_HEARTBEAT_EVERY_MS;
  }

  /** A poll was answered: heartbeat it, or (slow tier) keep it for the next heartbeat unless `now`. */
  progressed(progress: CompactPollProgress, options: { now?: boolean } = {}): void {
    this.latest = progress;
    if (options.now) this.send(progress);
  }

  /**
   * The workflow asks for a heartbeat (it was cancelled). Its local activity runs before the workflow task that requests
   * the activity's cancellation completes, so a heartbeat sent at once could be answered "not cancelled": one follows
   * REQUESTED_HEARTBEAT_DELAYS_MS later, and another after the SDK's longest throttle interval, in case it was late.
   */
  request(): void {
    const now = this.effects.now();
    this.requested = REQUESTED_HEARTBEAT_DELAYS_MS.map((delay) => now + delay);
  }

  /** While waiting: heartbeat when one is due (or requested). */
  waited(progress: CompactPollProgress): void {
    const now = this.effects.now();
    const requestedDue = this.requested.length > 0 && this.requested[0]! <= now;
    if (requestedDue) this.requested = this.requested.filter((at) => at > now);
    if (requestedDue || now - this.lastAtMs >= this.everyMs) this.send(progress);
  }

  /** How long the wait may last before the next heartbeat is due. */
  untilDueMs(): number {
    const now = this.effects.now();
    const regular = Math.max(1, this.lastAtMs + this.everyMs - now);
    return this.requested.length ? Math.max(1, Math.min(regular, this.requested[0]! - now)) : regular;
  }

  /** The progress to hand on (the latest, whether heartbeated or not). */
  last(progress: CompactPollProgress): CompactPollProgress {
    return this.latest ?? progress;
  }

  private send(progress: CompactPollProgress): void {
    this.lastAtMs = this.effects.now();
    this.effects.heartbeat(progress);
  }
}

/** When the fast cadence ends for this activity: the fast tier's end; at once in the slow tier; else the default. */
function fastUntil(input: CompactPollInput): number | undefined {
  if (!input.tier) return undefined;
  return input.tier.kind === 'fast' ? input.tier.endsAtMs : 0;
}

function tierOver(input: CompactPollInput, nowMs: number): boolean {
  return input.tier?.kind === 'fast' && nowMs >= input.tier.endsAtMs;
}

function delayMs(
  progress: CompactPollProgress,
  nowMs: number,
  approvalDeadlineMs: number,
  fastUntilMs: number | undefined,
): number {
  return nextPollDelaySeconds(progress.polling, nowMs, approvalDeadlineMs, fastUntilMs) * 1000;
}

/** After a transient fault: the interval, doubled per fault in a row up to a minute (or the interval), or Retry-After. */
function faultDelayMs(progress: CompactPollProgress, fault: TransientFault): number {
  const interval = progress.polling.intervalSeconds;
  const backoff = Math.min(interval * 2 ** (progress.faultsInARow - 1), Math.max(60, interval));
  return Math.max(backoff, fault.retryAfterSeconds ?? 0) * 1000;
}

/** Waits until `atMs` (or a ping), heartbeating as the tier wants. */
async function sleepUntil(
  atMs: number,
  progress: CompactPollProgress,
  effects: CompactPollEffects,
  heartbeats: Heartbeats,
): Promise<void> {
  for (let left = atMs - effects.now(); left > 0; left = atMs - effects.now()) {
    const woken = await effects.sleep(Math.min(left, heartbeats.untilDueMs()));
    if (woken === 'heartbeat') heartbeats.request();
    else heartbeats.waited(progress);
    if (woken === 'woken') return;
  }
}
