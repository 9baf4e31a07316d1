/**
 * The polling decisions of a CIBA approval, as pure functions of (state, provider answer, now).
 * No Temporal and no I/O here: the workflow feeds in what happened and does what these return.
 */
import type { BackchannelAcknowledgment, PollOutcome, TokenSet } from '../activities/ciba-protocol';
import { ApprovalFailureType } from '../common/approval';

/** CIBA Core 7.3: "If no value is provided, clients MUST use 5 as the default value." */
export const DEFAULT_INTERVAL_SECONDS = 5;
/** CIBA Core 11 / RFC 8628 3.5: on slow_down the interval grows by 5 s for this and every later poll. */
export const SLOW_DOWN_INCREMENT_SECONDS = 5;

export interface PollingState {
  authReqId: string;
  /** Seconds to wait before the next poll; never shrinks. */
  intervalSeconds: number;
  /** When the provider's auth_req_id expires (epoch ms, workflow time). */
  expiresAtMs: number;
  polls: number;
  slowDowns: number;
}

export type PollDecision =
  | { kind: 'poll_again'; state: PollingState }
  | { kind: 'approved'; tokens: TokenSet }
  | { kind: 'fail'; type: ApprovalFailureType; message: string };

export function startPolling(ack: BackchannelAcknowledgment, nowMs: number): PollingState {
  return {
    authReqId: ack.authReqId,
    intervalSeconds: validInterval(ack.interval) ?? DEFAULT_INTERVAL_SECONDS,
    expiresAtMs: nowMs + ack.expiresIn * 1000,
    polls: 0,
    slowDowns: 0,
  };
}

/**
 * The interval after a slow_down: at least 5 s more than before, or what the provider asks for
 * (an `interval` in the body, Auth0; a Retry-After header) when that is larger.
 */
export function slowedDownInterval(currentSeconds: number, answer: { interval?: number; retryAfterSeconds?: number }): number {
  return Math.max(
    currentSeconds + SLOW_DOWN_INCREMENT_SECONDS,
    validInterval(answer.interval) ?? 0,
    validInterval(answer.retryAfterSeconds) ?? 0,
  );
}

/** What to do after one poll answered `outcome` at `nowMs`. */
export function decide(state: PollingState, outcome: PollOutcome, nowMs: number): PollDecision {
  const polled = { ...state, polls: state.polls + 1 };
  const expired = nowMs >= state.expiresAtMs;
  switch (outcome.kind) {
    case 'approved':
      return { kind: 'approved', tokens: outcome.tokens };
    case 'authorization_pending':
      return expired
        ? fail(ApprovalFailureType.Expired, 'the user did not decide before the request expired')
        : { kind: 'poll_again', state: polled };
    case 'slow_down':
      return expired
        ? fail(ApprovalFailureType.Expired, 'the user did not decide before the request expired')
        : {
            kind: 'poll_again',
            state: { ...polled, slowDowns: polled.slowDowns + 1, intervalSeconds: slowedDownInterval(state.intervalSeconds, outcome) },
          };
    case 'access_denied':
      // Auth0 answers access_denied for expired requests too: after the deadline, expiry is the likelier story.
      return expired
        ? fail(ApprovalFailureType.Expired, withDescription('the request expired', outcome.description))
        : fail(ApprovalFailureType.Denied, withDescription('the user denied the request', outcome.description));
    case 'expired_token':
      return fail(ApprovalFailureType.Expired, withDescription('the request expired before the user decided', outcome.description));
    case 'invalid_grant':
      // oidc-provider forgets expired requests ~15 s after expiry and then answers invalid_grant.
      // Before expiry, invalid_grant means the provider no longer honours this auth_req_id, most likely
      // because tokens were already issued for it and that response was lost: they are revoked now.
      return expired
        ? fail(ApprovalFailureType.Expired, withDescription('the request expired before the user decided', outcome.description))
        : fail(
            ApprovalFailureType.Lost,
            withDescription(
              'the provider no longer accepts this auth_req_id before its expiry (a token response was probably lost; ' +
                'the provider revoked those tokens): the user must be asked again',
              outcome.description,
            ),
          );
  }
}

function fail(type: ApprovalFailureType, message: string): PollDecision {
  return { kind: 'fail', type, message };
}

function withDescription(message: string, description: string | undefined): string {
  return description ? `${message} (provider: ${description})` : message;
}

function validInterval(seconds: number | undefined): number | undefined {
  return seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
}
