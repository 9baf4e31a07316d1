/**
 * The approval workflow's own metrics: what only the workflow knows (an approval started, how it ended, how long the
 * user took). Emitted through the workflow's metricMeter, which the worker's runtime exports with the SDK's metrics
 * (worker/main.ts: CIBA_METRICS_ADDRESS, Prometheus). Replay-safe: the SDK drops metrics while a workflow replays,
 * so a worker that restarts, or a run that a new worker picks up, counts nothing twice.
 *
 * Labels are closed sets (status words, failure types, answer kinds): never a token, an auth_req_id, a user or a
 * binding message.
 *
 * Asks and polls are counted where they happen, in the activities (activities/activities.ts).
 */
import { metricMeter } from '@temporalio/workflow';
import type { TokenSet } from '../activities/ciba-protocol';
import { failureOutcome, type ApprovalStatus } from '../common/outcomes';
import type { PollDecision } from './polling';

/** Metric names, as the Prometheus endpoint shows them (counters get `_total` there). */
export const WORKFLOW_METRICS = {
  approvalsStarted: 'ciba_approvals_started',
  approvalsEnded: 'ciba_approvals_ended',
  timeToDecision: 'ciba_time_to_decision_seconds',
  decisionToResult: 'ciba_decision_to_result_seconds',
} as const;

// Created per use: the workflow's metricMeter works only inside a workflow's context (not at module load), and creating
// a metric is only an object (the sink call happens on add/record, and not at all while replaying).
const approvalsStarted = () =>
  metricMeter.createCounter(
    WORKFLOW_METRICS.approvalsStarted,
    undefined,
    'Approvals started (the first run of each; continued-as-new runs are not counted again)',
  );
const approvalsEnded = () =>
  metricMeter.createCounter(
    WORKFLOW_METRICS.approvalsEnded,
    undefined,
    'Approvals ended, by outcome (the status word) and failure type',
  );
const timeToDecision = () =>
  metricMeter.createHistogram(
    WORKFLOW_METRICS.timeToDecision,
    'float',
    's',
    "From the ask's acknowledgment by the provider to the workflow reading the user's final answer",
  );
const decisionToResult = () =>
  metricMeter.createHistogram(
    WORKFLOW_METRICS.decisionToResult,
    'float',
    's',
    "From the user's approval at the provider (ID token auth_time, else the access token's iat) to the result",
  );

/** The failure type of an ending that names none (as the client reports it). */
const DEFAULT_FAILURE_TYPES: Partial<Record<ApprovalStatus, string>> = {
  cancelled: 'ApprovalCancelled',
  failed: 'ApprovalFailed',
};

/** An approval started: call in its first run only. */
export function countApprovalStarted(): void {
  approvalsStarted().add(1);
}

/**
 * An approval ended: `outcome` is its final status word (approved, denied, expired, failed, cancelled), `failureType`
 * the failure type (an ApprovalFailureType) when it failed. An unknown type is counted as `other` (labels stay a
 * closed set).
 */
export function countApprovalEnded(outcome: ApprovalStatus, failureType?: string): void {
  const known = failureType ?? DEFAULT_FAILURE_TYPES[outcome];
  const type = known === undefined ? 'none' : failureOutcome(known) ? known : 'other';
  approvalsEnded().add(1, { outcome, failure_type: type });
}

/** The user's final answer was read (approved or denied): the time since the current ask was acknowledged. */
export function observeDecision(run: { polling?: { askedAtMs: number } }, decision: PollDecision): void {
  if (decision.kind !== 'approved' && decision.kind !== 'denied') return;
  const askedAtMs = run.polling?.askedAtMs;
  if (askedAtMs === undefined) return;
  timeToDecision().record(Math.max(0, Date.now() - askedAtMs) / 1000, {
    answer: decision.kind,
  });
}

/**
 * The tokens are handed back: the time since the user approved at the provider, by the ID token's `auth_time` (label
 * `from="auth_time"`); a provider that sends none (the local one, unless asked) gives the JWT access token's `iat`
 * instead (`from="token_issued"`: the poll that fetched the answer, so only the polling delay is left out). Whole
 * seconds, the provider's clock; nothing is recorded without either.
 */
export function observeResult(tokens: Pick<TokenSet, 'idToken' | 'accessToken'>): void {
  const authTime = numericClaim(tokens.idToken, 'auth_time');
  const issuedAt = authTime === undefined ? numericClaim(tokens.accessToken, 'iat') : undefined;
  const decidedAt = authTime ?? issuedAt;
  if (decidedAt === undefined) return;
  decisionToResult().record(Math.max(0, Date.now() / 1000 - decidedAt), {
    from: authTime !== undefined ? 'auth_time' : 'token_issued',
  });
}

/** A numeric claim of a JWT, read without verifying it (for a metric only); undefined when there is none. */
export function numericClaim(jwt: string | undefined, claim: 'auth_time' | 'iat'): number | undefined {
  const payload = jwt?.split('.')[1];
  if (!payload) return undefined;
  const match = new RegExp(`"${claim}"\\s*:\\s*(\\d+)`).exec(base64UrlToLatin1(payload));
  return match ? Number(match[1]) : undefined;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url to a string of bytes (workflow code has no Buffer); enough to find an ASCII claim in it. */
function base64UrlToLatin1(text: string): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const char of text) {
    const digit = BASE64URL.indexOf(char);
    if (digit < 0) continue;
    value = ((value << 6) | digit) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((value >> bits) & 0xff);
    }
  }
  return out;
}
