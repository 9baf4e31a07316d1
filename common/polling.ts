/**
 * The decisions of a CIBA approval, as pure functions of (state, provider answer, now).
 * No Temporal and no I/O here: the workflow feeds in what happened and does what these return.
 */
import type { BackchannelAcknowledgment, PollOutcome, TokenSet } from './ciba-answers';
import type { AskAgainPolicy } from './approval';
import { ApprovalFailureType } from './outcomes';

/** CIBA Core 7.3: "If no value is provided, clients MUST use 5 as the default value." */
export const DEFAULT_INTERVAL_SECONDS = 5;
/** CIBA Core 11 / RFC 8628 3.5: on slow_down the interval grows by 5 s for this and every later poll. */
export const SLOW_DOWN_INCREMENT_SECONDS = 5;
/**
 * Polling cadence. For the first minutes of each ask the user is most likely looking at the prompt: poll as
 * often as the provider allows. Later (e-mail approvals, hours-long windows) a decision is noticed within
 * SLOW_POLL_SECONDS, at a fraction of the history and provider load (bench/history.ts measures it).
 */
export const FAST_POLLING_WINDOW_SECONDS = 300;
export const SLOW_POLL_SECONDS = 30;
/**
 * Timer mode with CIBA ping, after the fast window: the ping is the signal that the user decided (it cuts the wait
 * short), so the poll that does not wait for one only covers a lost ping. Each such poll costs a timer and an
 * activity (2 Temporal Cloud actions): every 5 minutes instead of 30 s is ~570 actions a day instead of ~5,700.
 */
export const PING_FALLBACK_POLL_SECONDS = 300;
/**
 * Timer mode's idle tier (runs since the patch timer-idle-tier): from TIMER_IDLE_AFTER_SECONDS after the ask, a poll
 * every TIMER_IDLE_POLL_SECONDS. Each timer-mode poll is a timer and an activity (2 Temporal Cloud actions): at 30 s
 * for a whole day that is ~5,900 actions; with this tier ~1,650 (docs/waiting-costs.md). A user who answers after
 * half an hour is seen within 2 minutes instead of 30 s. Compact mode keeps 30 s: its polls cost no actions.
 */
export const TIMER_IDLE_AFTER_SECONDS = 1_800;
export const TIMER_IDLE_POLL_SECONDS = 120;

/** Timer mode's cadence after the fast window, for nextPollDelaySeconds' `slowSeconds`. */
export function timerSlowSeconds(
  state: Pick<PollingState, 'askedAtMs'>,
  nowMs: number,
  tiers: { ping: boolean; idleTier: boolean },
): number {
  if (tiers.ping) return PING_FALLBACK_POLL_SECONDS;
  return tiers.idleTier && isTimerIdle(state, nowMs) ? TIMER_IDLE_POLL_SECONDS : SLOW_POLL_SECONDS;
}

/** The ask has waited TIMER_IDLE_AFTER_SECONDS or more: timer mode's idle tier applies (to runs since the patch). */
export function isTimerIdle(state: Pick<PollingState, 'askedAtMs'>, nowMs: number): boolean {
  return nowMs >= state.askedAtMs + TIMER_IDLE_AFTER_SECONDS * 1000;
}

/**
 * Compact mode's two tiers (runs since tiers): a fast one, `fastSeconds` after each ask, whose activity heartbeats
 * often; then a slow one whose activity heartbeats every `slowHeartbeatSeconds` (each recorded heartbeat is a billed
 * Temporal Cloud action). Both poll as nextPollDelaySeconds says. The worker decides them (CIBA_COMPACT_*), once per
 * approval; docs/waiting-costs.md has the numbers behind the defaults.
 */
export interface CompactTiers {
  fastSeconds: number;
  slowHeartbeatSeconds: number;
}

/** The defaults: the fast tier is the fast polling window; 15 minutes between slow-tier heartbeats (~96 a day). */
export const DEFAULT_COMPACT_TIERS: CompactTiers = {
  fastSeconds: FAST_POLLING_WINDOW_SECONDS,
  slowHeartbeatSeconds: 900,
};

/**
 * The slow tier's heartbeat timeout: the heartbeat period plus a third of it (at least 5 s), so that a late heartbeat
 * (a poll in flight, a busy event loop) is not taken for a dead worker. It is how long a crashed worker's slow-tier
 * loop goes unnoticed at most (15 min period: 20 min).
 */
export function slowTierHeartbeatTimeoutMs(tiers: CompactTiers): number {
  const periodMs = tiers.slowHeartbeatSeconds * 1000;
  return periodMs + Math.max(periodMs / 3, 5_000);
}

export interface PollingState {
  authReqId: string;
  /** The provider's minimum seconds between polls (grown by slow_down); never shrinks. */
  intervalSeconds: number;
  /** When this ask was acknowledged (epoch ms, workflow time). */
  askedAtMs: number;
  /** When the provider's auth_req_id expires (epoch ms, workflow time). */
  expiresAtMs: number;
  polls: number;
  slowDowns: number;
  /** The provider pings for this ask (CIBA ping mode); absent in asks from before it was recorded. */
  ping?: true;
}

export type PollDecision =
  | { kind: 'poll_again'; state: PollingState }
  | { kind: 'approved'; tokens: TokenSet }
  | { kind: 'denied'; message: string }
  /** This ask can no longer be approved; whether to ask again is nextAsk()'s decision. */
  | { kind: 'ask_ended'; reason: 'expired' | 'lost_token_response'; message: string };

export type AskDecision =
  | { kind: 'ask'; reason: 'expired' | 'lost_token_response'; atMs: number }
  | { kind: 'fail'; type: ApprovalFailureType; message: string; details?: LostAnswerDetails };

/** Details of an ApprovalLost failure: what the lost answer may have been. */
export interface LostAnswerDetails {
  /** The provider's final answer never reached the worker: it may have been either. */
  possibleAnswers: ['approved', 'denied'];
  /** Whether the policy allowed asking again after a lost answer (askAgain.afterLostAnswer). */
  askedAgainAfterLostAnswer: boolean;
}

export function startPolling(ack: BackchannelAcknowledgment, nowMs: number): PollingState {
  return {
    authReqId: ack.authReqId,
    intervalSeconds: validInterval(ack.interval) ?? DEFAULT_INTERVAL_SECONDS,
    askedAtMs: nowMs,
    expiresAtMs: nowMs + ack.expiresIn * 1000,
    polls: 0,
    slowDowns: 0,
    ...(ack.ping && { ping: true as const }),
  };
}

/**
 * How long to wait before the next poll: the provider's interval in the fast window, SLOW_POLL_SECONDS after it,
 * but never past the moment the ask (or the approval) expires, so that the last poll sees a last-second
 * decision and a new ask follows promptly. Never shorter than the provider's interval.
 */
export function nextPollDelaySeconds(
  state: PollingState,
  nowMs: number,
  approvalDeadlineMs: number,
  /** When the fast window ends (compact mode's tiers say it); by default FAST_POLLING_WINDOW_SECONDS after the ask. */
  fastUntilMs: number = state.askedAtMs + FAST_POLLING_WINDOW_SECONDS * 1000,
  /** The cadence after the fast window: SLOW_POLL_SECONDS, or PING_FALLBACK_POLL_SECONDS in timer mode with ping. */
  slowSeconds: number = SLOW_POLL_SECONDS,
): number {
  const cadence = nowMs < fastUntilMs ? state.intervalSeconds : Math.max(state.intervalSeconds, slowSeconds);
  const untilEnd = Math.ceil((Math.min(state.expiresAtMs, approvalDeadlineMs) - nowMs) / 1000);
  return Math.max(state.intervalSeconds, Math.min(cadence, untilEnd));
}

/**
 * The interval after a slow_down: at least 5 s more than before, or what the provider asks for
 * (an `interval` in the body, Auth0; a Retry-After header) when that is larger.
 */
export function slowedDownInterval(
  currentSeconds: number,
  answer: { interval?: number; retryAfterSeconds?: number },
): number {
  return Math.max(
    currentSeconds + SLOW_DOWN_INCREMENT_SECONDS,
    validInterval(answer.interval) ?? 0,
    validInterval(answer.retryAfterSeconds) ?? 0,
  );
}

/** What one poll's answer at `nowMs` means for this ask. */
export function interpretPollAnswer(
  state: PollingState,
  answer: PollOutcome,
  nowMs: number,
  approvalDeadlineMs: number,
): PollDecision {
  const polled = { ...state, polls: state.polls + 1 };
  const askExpired = nowMs >= state.expiresAtMs;
  const ended = nowMs >= Math.min(state.expiresAtMs, approvalDeadlineMs);
  const expired = (message: string, description?: string): PollDecision => ({
    kind: 'ask_ended',
    reason: 'expired',
    message: withDescription(message, description),
  });
  switch (answer.kind) {
    case 'approved':
      return { kind: 'approved', tokens: answer.tokens };
    case 'authorization_pending':
      return ended ? expired('the user did not decide in time') : { kind: 'poll_again', state: polled };
    case 'slow_down':
      return ended
        ? expired('the user did not decide in time')
        : {
            kind: 'poll_again',
            state: {
              ...polled,
              slowDowns: polled.slowDowns + 1,
              intervalSeconds: slowedDownInterval(state.intervalSeconds, answer),
            },
          };
    case 'access_denied':
      // Auth0 answers access_denied for expired requests too: after expiry, expiry is the likelier story.
      return askExpired
        ? expired('the request expired', answer.description)
        : { kind: 'denied', message: withDescription('the user denied the request', answer.description) };
    case 'expired_token':
      return expired('the request expired before the user decided', answer.description);
    case 'invalid_grant':
      // oidc-provider forgets expired requests ~15 s after expiry and then answers invalid_grant.
      // Before expiry, invalid_grant means the provider no longer honours this auth_req_id, most likely because
      // tokens were issued for it and that response was lost: the provider revoked them when it saw the id again.
      return askExpired
        ? expired('the request expired before the user decided', answer.description)
        : {
            kind: 'ask_ended',
            reason: 'lost_token_response',
            message: withDescription(
              'the provider no longer accepts this auth_req_id before its expiry (its final answer was probably lost ' +
                'on the way back; tokens it issued are revoked)',
              answer.description,
            ),
          };
  }
}

/** After an ask ended without a decision: ask the user again, or give up, by the policy and the deadline. */
export function nextAsk(
  ended: { reason: 'expired' | 'lost_token_response'; message: string },
  asksSoFar: number,
  policy: AskAgainPolicy,
  nowMs: number,
  approvalDeadlineMs: number,
): AskDecision {
  const fail = (why: string): AskDecision =>
    ended.reason === 'expired'
      ? { kind: 'fail', type: ApprovalFailureType.Expired, message: `${ended.message}; ${why}` }
      : {
          kind: 'fail',
          type: ApprovalFailureType.Lost,
          message: `${ended.message}; the lost answer may have been an approval or a denial; ${why}`,
          details: { possibleAnswers: ['approved', 'denied'], askedAgainAfterLostAnswer: policy.afterLostAnswer },
        };
  // The lost answer may have been "no": asking again would ask a user who said no behind their back.
  if (ended.reason === 'lost_token_response' && !policy.afterLostAnswer) {
    return fail('not asked again (askAgain.afterLostAnswer is off)');
  }
  if (asksSoFar >= policy.maxAsks) return fail(`asked ${asksSoFar} of ${policy.maxAsks} times`);
  // A lost answer is asked again at once: the user just decided and is waiting.
  const atMs = nowMs + (ended.reason === 'expired' ? policy.delayBetweenAsks * 1000 : 0);
  if (atMs >= approvalDeadlineMs) return fail('the approval deadline leaves no time to ask again');
  return { kind: 'ask', reason: ended.reason, atMs };
}

function withDescription(message: string, description: string | undefined): string {
  return description ? `${message} (provider: ${description})` : message;
}

function validInterval(seconds: number | undefined): number | undefined {
  return seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
}
