/**
 * Activities: thin adapters from the CIBA protocol module to Temporal. They decide nothing about the approval;
 * they only translate protocol failures into Temporal failures whose retry semantics are right:
 *
 * - Initiation runs once per activity call (the workflow gives it maximumAttempts: 1). The workflow sends the
 *   request again only when this activity says the provider cannot have seen it (`InitiationNotSent`), because a
 *   second request the provider accepted would notify the user twice.
 * - Polls are safe to repeat while the answer is pending, so transient faults (5xx, 429, timeouts, resets) are
 *   retryable and left to Temporal's retry policy, with `nextRetryDelay` honouring Retry-After and never shorter
 *   than the polling interval.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { ApprovalRequest, AskReason, ProviderErrorDetails } from '../common/approval';
import { ActivityFailureType, ApprovalFailureType } from '../common/outcomes';
import { profileViolations, repeatBindingMessage, type ProviderProfile } from '../common/provider-profile';
import {
  InvalidProviderResponseError,
  ProviderError,
  ProviderUnavailableError,
  TransportError,
  type BackchannelAcknowledgment,
  type CibaClient,
  type PollOutcome,
} from './ciba-protocol';

export interface PollTokenInput {
  authReqId: string;
  /** The current polling interval: a retry after a transient fault never comes sooner. */
  intervalSeconds: number;
}

/** Why a backchannel request is sent (absent in histories recorded before it was passed: the first ask). */
export interface AskContext {
  reason: AskReason;
}

export function createCibaActivities(ciba: CibaClient, profile: ProviderProfile) {
  return {
    /**
     * CIBA backchannel authentication request: the provider notifies the user's device. The request is checked
     * against the provider's profile first: one the provider would refuse is never sent.
     */
    async requestBackchannelAuthentication(
      request: ApprovalRequest,
      ask?: AskContext,
    ): Promise<BackchannelAcknowledgment> {
      const violations = profileViolations(profile, request, {
        repeatable: request.askAgain?.afterLostAnswer === true,
      });
      if (violations.length) {
        throw ApplicationFailure.nonRetryable(
          violations.map((violation) => violation.message).join('; '),
          ApprovalFailureType.InvalidRequest,
        );
      }
      const bindingMessage =
        ask?.reason === 'lost_token_response'
          ? repeatBindingMessage(profile, request.bindingMessage)
          : request.bindingMessage;
      try {
        return await ciba.requestBackchannelAuthentication({ ...request, bindingMessage });
      } catch (error) {
        throw initiationFailure(error, profile);
      }
    },

    /** One poll of the token endpoint for `authReqId`. */
    async pollToken(input: PollTokenInput): Promise<PollOutcome> {
      try {
        return await ciba.pollToken(input.authReqId);
      } catch (error) {
        throw pollFailure(error, input.intervalSeconds, profile);
      }
    },
  };
}

export type CibaActivities = ReturnType<typeof createCibaActivities>;

function initiationFailure(error: unknown, profile: ProviderProfile): unknown {
  if (error instanceof ProviderError) return providerRejected(error, profile);
  if (error instanceof TransportError && !error.requestSent) {
    return ApplicationFailure.create({
      message: error.message,
      type: ActivityFailureType.InitiationNotSent,
      nonRetryable: true,
    });
  }
  // 429 and 503 say "not processed, come back later" (RFC 6585, RFC 9110 15.6.4).
  if (error instanceof ProviderUnavailableError && (error.status === 429 || error.status === 503)) {
    return ApplicationFailure.create({
      message: error.message,
      type: ActivityFailureType.InitiationNotSent,
      nonRetryable: true,
      details: [{ retryAfterSeconds: error.retryAfterSeconds }],
    });
  }
  if (error instanceof TransportError || error instanceof ProviderUnavailableError) {
    return ApplicationFailure.nonRetryable(
      `the backchannel authentication request may have reached the provider, which may have notified the user; ` +
        `it is not sent again automatically (${error.message})`,
      ApprovalFailureType.InitiationUncertain,
    );
  }
  if (error instanceof InvalidProviderResponseError) {
    return ApplicationFailure.nonRetryable(error.message, ApprovalFailureType.InvalidProviderResponse);
  }
  return error;
}

function pollFailure(error: unknown, intervalSeconds: number, profile: ProviderProfile): unknown {
  if (error instanceof ProviderError) return providerRejected(error, profile);
  if (error instanceof ProviderUnavailableError) {
    return ApplicationFailure.create({
      message: error.message,
      type: ActivityFailureType.ProviderUnavailable,
      nextRetryDelay:
        error.retryAfterSeconds !== undefined ? `${Math.max(error.retryAfterSeconds, intervalSeconds)}s` : undefined,
    });
  }
  if (error instanceof TransportError) {
    return ApplicationFailure.retryable(error.message, ActivityFailureType.ProviderUnavailable);
  }
  if (error instanceof InvalidProviderResponseError) {
    return ApplicationFailure.nonRetryable(error.message, ApprovalFailureType.InvalidProviderResponse);
  }
  return error;
}

function providerRejected(error: ProviderError, profile: ProviderProfile): ApplicationFailure {
  const details: ProviderErrorDetails = {
    error: error.error,
    errorDescription: error.errorDescription,
    status: error.status,
    cibaError: profile.cibaError(error.error, error.errorDescription),
  };
  return ApplicationFailure.create({
    message: `the provider rejected the request: ${error.message}`,
    type: ApprovalFailureType.ProviderRejected,
    nonRetryable: true,
    details: [details],
  });
}
