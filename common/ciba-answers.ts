/**
 * What a CIBA provider answers, as this project reads it: the backchannel request's acknowledgment and each poll's
 * answer. Types only; the protocol module (activities/ciba-protocol.ts) produces them, the pure decisions
 * (common/polling.ts) and the workflow read them.
 */
import type { ApprovalResult } from './approval';

/** The provider's acknowledgment of a backchannel authentication request. */
export interface BackchannelAcknowledgment {
  authReqId: string;
  expiresIn: number;
  /** Seconds to wait between polls, when the provider says (CIBA: absent means 5). */
  interval?: number;
  /** The provider that acknowledged: its issuer URL (absent in histories recorded before it was added). */
  issuer?: string;
  /** CIBA ping mode: the request carried a client_notification_token, so the provider pings when the user decides. */
  ping?: true;
}

/**
 * The tokens of a successful token response: the approval's result (ApprovalResult) before the workflow records
 * when it came.
 */
export type TokenSet = Omit<ApprovalResult, 'approvedAt'>;

/** One poll of the token endpoint, as the CIBA spec names its answers. */
export type PollOutcome =
  | { kind: 'authorization_pending' }
  | { kind: 'slow_down'; interval?: number; retryAfterSeconds?: number }
  | { kind: 'approved'; tokens: TokenSet }
  | { kind: 'access_denied'; description?: string }
  | { kind: 'expired_token'; description?: string }
  | { kind: 'invalid_grant'; description?: string };
