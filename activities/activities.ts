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
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { noopMetricMeter, type MetricMeter } from '@temporalio/common';
import type { ApprovalRequest, AskReason, PollingMode, ProviderErrorDetails } from '../common/approval';
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
import { mintNotificationToken } from '../common/notification-token';
import type { PingWakeups } from './ping-wakeups';
import {
  pollUntilDecided,
  type CompactPollInput,
  type CompactPollProgress,
  type CompactPollResult,
} from './compact-polling';

export interface PollTokenInput {
  authReqId: string;
  /** The current polling interval: a retry after a transient fault never comes sooner. */
  intervalSeconds: number;
}

/** Why a backchannel request is sent (absent in histories recorded before it was passed: the first ask). */
export interface AskContext {
  reason: AskReason;
}

/** Ping mode (CIBA Core 10.2): how asks get their client_notification_token, and how pings wake compact polling. */
export interface PingSettings {
  /** The notification-token key (common/notification-token.ts); tokens are minted per ask, never stored. */
  notificationKey: Uint8Array;
  wakeups: PingWakeups;
}

export function createCibaActivities(ciba: CibaClient, profile: ProviderProfile, ping?: PingSettings) {
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
        // A fresh token per ask, bound to this approval; only its holder (the provider) can ping for it.
        const clientNotificationToken =
          ping && mintNotificationToken(ping.notificationKey, approvalIdOf(Context.current()));
        const ack = await ciba.requestBackchannelAuthentication(
          { ...request, bindingMessage },
          { clientNotificationToken },
        );
        countAsk(ask?.reason ?? 'first');
        return { ...ack, issuer: ciba.issuer };
      } catch (error) {
        throw initiationFailure(error, profile);
      }
    },

    /** One poll of the token endpoint for `authReqId`. */
    async pollToken(input: PollTokenInput): Promise<PollOutcome> {
      try {
        return await countedPoll('timer', () => ciba.pollToken(input.authReqId));
      } catch (error) {
        throw pollFailure(error, input.intervalSeconds, profile);
      }
    },

    /**
     * Compact polling mode: polls `input.polling`'s ask until a final answer, heartbeating its progress; a retry (after
     * a worker crash) resumes from the last heartbeat. Transient faults are retried inside, as Temporal would retry
     * pollToken; a provider rejection ends it with the same failure as pollToken's.
     */
    async pollUntilDecided(input: CompactPollInput): Promise<CompactPollResult> {
      const context = Context.current();
      // A ping wakes the current sleep, or the next one if it comes between two.
      let wakeSleep: (() => void) | undefined;
      let wokenEarly = false;
      const unregister = ping?.wakeups.register(approvalIdOf(context), input.polling.authReqId, () => {
        if (wakeSleep) wakeSleep();
        else wokenEarly = true;
      });
      const polling = pollUntilDecided(
        input,
        {
          now: () => Date.now(),
          sleep: async (ms) => {
            if (wokenEarly) {
              wokenEarly = false;
              return 'woken';
            }
            return new Promise<'woken' | void>((resolve, reject) => {
              wakeSleep = () => resolve('woken');
              context.sleep(ms).then(() => resolve(), reject);
            }).finally(() => (wakeSleep = undefined));
          },
          heartbeat: (progress) => context.heartbeat(progress),
          poll: async (authReqId) => {
            try {
              return await countedPoll('compact', () => ciba.pollToken(authReqId));
            } catch (error) {
              if (error instanceof ProviderUnavailableError || error instanceof TransportError) {
                return {
                  kind: 'fault',
                  fault: {
                    message: error.message,
                    retryAfterSeconds: error instanceof ProviderUnavailableError ? error.retryAfterSeconds : undefined,
                  },
                };
              }
              throw pollFailure(error, input.polling.intervalSeconds, profile);
            }
          },
        },
        context.info.heartbeatDetails as CompactPollProgress | undefined,
      );
      return polling
        .catch((error: unknown) => {
          // The approval was cancelled (or this worker is shutting down: another attempt resumes from the heartbeat).
          if (error instanceof CancelledFailure) context.log.info(`compact polling stopped: ${error.message}`);
          throw error;
        })
        .finally(unregister);
    },
  };
}

export type CibaActivities = ReturnType<typeof createCibaActivities>;

/**
 * The activities' metrics (the workflow's own are in workflows/metrics.ts), exported with the SDK's through the
 * worker's runtime (CIBA_METRICS_ADDRESS). Labels are closed sets: never a token, auth_req_id, user or message.
 */
export const ACTIVITY_METRICS = {
  /** Backchannel requests the provider acknowledged (one auth_req_id, one notification each), by `reason`. */
  asks: 'ciba_asks',
  /** Polls of the token endpoint, by the provider's `answer` and the polling `mode` (timer, compact). */
  polls: 'ciba_polls',
} as const;

/** Answers a poll is counted under besides PollOutcome's kinds. */
export const POLL_FAULT_ANSWERS = {
  /** No answer: a transient fault (5xx, 429, timeout, reset), retried. */
  unavailable: 'provider_unavailable',
  /** The provider rejected the poll (e.g. invalid_client), or answered something not OAuth. */
  error: 'error',
} as const;

/** The running activity's metric meter (tagged with namespace, task queue, activity type); a no-op outside one. */
function activityMeter(): MetricMeter {
  try {
    return Context.current().metricMeter;
  } catch {
    return noopMetricMeter;
  }
}

function countAsk(reason: AskReason): void {
  activityMeter()
    .createCounter(ACTIVITY_METRICS.asks, undefined, 'Backchannel requests acknowledged by the provider, by reason')
    .add(1, { reason });
}

/** One poll, counted by the provider's answer once it is known. */
async function countedPoll(mode: PollingMode, poll: () => Promise<PollOutcome>): Promise<PollOutcome> {
  let answer: string = POLL_FAULT_ANSWERS.error;
  try {
    const outcome = await poll();
    answer = outcome.kind;
    return outcome;
  } catch (error) {
    if (error instanceof ProviderUnavailableError || error instanceof TransportError)
      answer = POLL_FAULT_ANSWERS.unavailable;
    throw error;
  } finally {
    activityMeter()
      .createCounter(ACTIVITY_METRICS.polls, undefined, "Polls of the token endpoint, by the provider's answer")
      .add(1, { answer, mode });
  }
}

/** What a worker decides for the approvals it runs, asked once per approval (as a local activity). */
export function createWorkerSettingsActivities(settings: { pollingMode: PollingMode }) {
  return {
    /** The polling mode of approvals whose request names none (CIBA_POLLING_MODE). */
    async workerPollingMode(): Promise<PollingMode> {
      return settings.pollingMode;
    },
  };
}

export type WorkerSettingsActivities = ReturnType<typeof createWorkerSettingsActivities>;

/** The approval (workflow) an activity runs for. */
function approvalIdOf(context: Context): string {
  const workflowId = context.info.workflowExecution?.workflowId;
  if (!workflowId) throw ApplicationFailure.nonRetryable('this activity runs only for an approval workflow');
  return workflowId;
}

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
