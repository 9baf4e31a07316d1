/**
 * How failures become the approval's own, as pure functions: the failure an approval ends with, what an activity's
 * failure means for it, whether a backchannel request that failed is sent again, and the status word an ending
 * leaves. No commands here: unit-tested in test/failures.test.ts.
 */
import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { ApprovalFailureInfo } from '../common/approval';
import { ActivityFailureType, ApprovalFailureType, failureOutcome, type ApprovalStatus } from '../common/outcomes';

/** How often, at most, a backchannel request that certainly did not reach the provider is sent. */
export const MAX_SENDS = 5;

/** A failure that ends the approval (non-retryable: the workflow must not retry its task). */
export function approvalFailure(type: ApprovalFailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: true,
    details: details === undefined ? undefined : [details],
  });
}

export type AfterSendFailure = { kind: 'send_again'; afterSeconds: number } | { kind: 'fail'; error: unknown };

/**
 * After the `sends`-th sending of a backchannel request failed: send it again only when the provider cannot have
 * seen it (InitiationNotSent), after a backoff that honours Retry-After; otherwise the approval ends.
 */
export function afterSendFailure(error: unknown, sends: number): AfterSendFailure {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  if (
    error instanceof ActivityFailure &&
    !isCancellation(error) &&
    !(cause instanceof ApplicationFailure && cause.nonRetryable)
  ) {
    // The activity timed out (its worker died mid-request) or failed untyped: the request may have reached the
    // provider, which may have notified the user. Same rule as any other uncertain initiation: not sent again.
    const message =
      `the backchannel authentication request may have reached the provider, which may have notified the user; ` +
      `it is not sent again automatically (${cause?.message ?? error.message})`;
    return { kind: 'fail', error: approvalFailure(ApprovalFailureType.InitiationUncertain, message) };
  }
  if (!(cause instanceof ApplicationFailure) || cause.type !== ActivityFailureType.InitiationNotSent)
    return { kind: 'fail', error };
  if (sends >= MAX_SENDS) {
    const message = `the provider could not be reached after ${sends} attempts: ${cause.message}`;
    return { kind: 'fail', error: approvalFailure(ApprovalFailureType.ProviderUnavailable, message) };
  }
  const retryAfterSeconds = (cause.details?.[0] as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
  return { kind: 'send_again', afterSeconds: Math.max(retryAfterSeconds ?? 0, 2 ** sends) };
}

/** The failure the approval ends with: an activity's typed failure is surfaced as the workflow's own. */
export function asApprovalFailure(error: unknown): unknown {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable) {
    const cause = error.cause;
    return ApplicationFailure.create({
      message: cause.message,
      type: cause.type ?? undefined,
      details: cause.details ?? undefined,
      nonRetryable: true,
    });
  }
  if (error instanceof ActivityFailure && !isCancellation(error)) {
    return approvalFailure(ApprovalFailureType.ActivityFailed, error.cause?.message ?? error.message);
  }
  return error;
}

/** The status word (and the failure, for the status query) of an approval that ends with `error`. */
export function endedWith(error: unknown): { status: ApprovalStatus; failure?: ApprovalFailureInfo } {
  if (isCancellation(error)) return { status: 'cancelled' };
  if (error instanceof ApplicationFailure && error.type) {
    return {
      status: failureOutcome(error.type)?.status ?? 'failed',
      failure: { type: error.type as ApprovalFailureType, message: error.message },
    };
  }
  return { status: 'failed' };
}
