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
  unreturnedTokensOf,
  type BackchannelAcknowledgment,
  type CibaClient,
  type PollOutcome,
  type UnreturnedTokens,
} from './ciba-protocol';
import { describeRevocations, revokeAtProvider, type TokenRevocation } from './revocation';
import { mintNotificationToken } from '../common/notification-token';
import { DEFAULT_COMPACT_TIERS, type CompactTiers } from '../common/polling';
import type { PingWakeups } from './ping-wakeups';
import { PingWakeups as LoopWakeups } from './ping-wakeups';
import {
  pollUntilDecided,
  type CompactPollInput,
  type CompactPollProgress,
  type CompactTierResult,
} from './compact-polling';

export interface PollTokenInput {
  authReqId: string;
  /** The current polling interval: a retry after a transient fault never comes sooner. */
  intervalSeconds: number;
}

/** Tokens the provider issued that the approval does not hand back to the agent, and why. */
export interface RevokeTokensInput {
  tokens: UnreturnedTokens;
  /** not_granted: not what was asked (AuthorizationDetailsNotGranted); cancelled: the approval was cancelled. */
  reason: 'not_granted' | 'cancelled';
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

/** Which waiting poll (a compact loop) a local activity means: the current ask's. */
export interface WaitingPollRef {
  authReqId: string;
}

export function createCibaActivities(ciba: CibaClient, profile: ProviderProfile, ping?: PingSettings) {
  // Compact loops in this process that a cancelled workflow asks to heartbeat now (the answer carries the cancel).
  const heartbeatRequests = new LoopWakeups();
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
        return { ...ack, issuer: ciba.issuer, ...(clientNotificationToken && { ping: true as const }) };
      } catch (error) {
        throw initiationFailure(error, profile);
      }
    },

    /** One poll of the token endpoint for `authReqId` (timer mode: the workflow's timer waited before it). */
    async pollToken(input: PollTokenInput): Promise<PollOutcome> {
      const startedAtMs = Date.now();
      try {
        return await countedPoll('timer', () => ciba.pollToken(input.authReqId));
      } catch (error) {
        const revoked = await revokeTokensOfInvalidAnswer(ciba, profile, error, activityContext, startedAtMs);
        throw pollFailure(error, input.intervalSeconds, profile, revoked);
      }
    },

    /**
     * RFC 7009: revokes tokens the provider issued that the approval does not hand back (best effort: the report
     * says what was revoked). Fails, to be tried again, only when a transient fault kept a token from being revoked.
     */
    async revokeTokens(input: RevokeTokensInput): Promise<TokenRevocation[]> {
      const context = Context.current();
      const report = await revokeAtProvider(ciba, profile, input.tokens);
      context.log.info(`tokens not handed back (${input.reason}): ${describeRevocations(report)}`);
      if (report.some((revocation) => revocation.transient)) {
        throw ApplicationFailure.retryable(
          `tokens not revoked yet: ${describeRevocations(report)}`,
          ActivityFailureType.ProviderUnavailable,
        );
      }
      return report;
    },

    /**
     * Compact polling mode: polls `input.polling`'s ask until a final answer, heartbeating its progress; a retry (after
     * a worker crash) resumes from the last heartbeat. Transient faults are retried inside, as Temporal would retry
     * pollToken; a provider rejection ends it with the same failure as pollToken's.
     */
    async pollUntilDecided(input: CompactPollInput): Promise<CompactTierResult> {
      const context = Context.current();
      const startedAtMs = Date.now();
      let lastProgress = context.info.heartbeatDetails as CompactPollProgress | undefined;
      // A ping, or a request to heartbeat now, wakes the current sleep, or the next one if it comes between two.
      let wakeSleep: ((why: 'woken' | 'heartbeat') => void) | undefined;
      let wokenEarly: 'woken' | 'heartbeat' | undefined;
      const wake = (why: 'woken' | 'heartbeat') => () => {
        if (wakeSleep) wakeSleep(why);
        else if (wokenEarly !== 'woken') wokenEarly = why;
      };
      const approvalId = approvalIdOf(context);
      const unregisterPing = ping?.wakeups.register(approvalId, input.polling.authReqId, wake('woken'));
      const unregisterHeartbeat = heartbeatRequests.register(approvalId, input.polling.authReqId, wake('heartbeat'));
      const unregister = () => {
        unregisterPing?.();
        unregisterHeartbeat();
      };
      const polling = pollUntilDecided(
        input,
        {
          now: () => Date.now(),
          sleep: async (ms) => {
            if (wokenEarly) {
              const why = wokenEarly;
              wokenEarly = undefined;
              return why;
            }
            return new Promise<'woken' | 'heartbeat' | void>((resolve, reject) => {
              wakeSleep = resolve;
              context.sleep(ms).then(() => resolve(), reject);
            }).finally(() => (wakeSleep = undefined));
          },
          heartbeat: (progress) => {
            lastProgress = progress;
            context.heartbeat(progress);
          },
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
              // Heartbeats go on while tokens of an invalid answer are revoked: the attempt must not time out.
              const revoked = await revokeTokensOfInvalidAnswer(
                ciba,
                profile,
                error,
                () => context,
                startedAtMs,
                () => context.heartbeat(lastProgress),
              );
              throw pollFailure(error, input.polling.intervalSeconds, profile, revoked);
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

    /**
     * Local activity of a cancelled approval whose poll waits without heartbeating often (compact mode's slow tier):
     * asks the waiting poll of its current ask, if it runs in this process, to heartbeat now, so that it learns of the
     * cancellation at once rather than at its next heartbeat. True when one here was asked.
     */
    async heartbeatWaitingPoll(loop: WaitingPollRef): Promise<boolean> {
      return heartbeatRequests.wake(approvalIdOf(Context.current()), loop.authReqId);
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

/** How a worker wants its approvals to wait (workerWaitSettings). */
export interface WorkerWaitSettings {
  /** The polling mode of approvals whose request names none (CIBA_POLLING_MODE). */
  pollingMode: PollingMode;
  /** Compact mode's tiers (CIBA_COMPACT_FAST_SECONDS, CIBA_COMPACT_SLOW_HEARTBEAT_SECONDS). */
  compactTiers: CompactTiers;
}

/** What a worker decides for the approvals it runs, asked once per approval (as a local activity). */
export function createWorkerSettingsActivities(settings: { pollingMode: PollingMode; compactTiers?: CompactTiers }) {
  return {
    /** The polling mode of approvals whose request names none (CIBA_POLLING_MODE); runs from before tiers ask this. */
    async workerPollingMode(): Promise<PollingMode> {
      return settings.pollingMode;
    },

    /** The polling mode and compact mode's tiers (runs since tiers ask this instead, in the same one local activity). */
    async workerWaitSettings(): Promise<WorkerWaitSettings> {
      return { pollingMode: settings.pollingMode, compactTiers: settings.compactTiers ?? DEFAULT_COMPACT_TIERS };
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

/** At most this long is spent revoking the tokens of an invalid answer, and never the attempt's last few seconds. */
const INVALID_ANSWER_REVOCATION_MS = 20_000;
const REVOCATION_MARGIN_MS = 5_000;

/** The running activity's context; undefined when the function runs outside one (the property tests call it so). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * A poll answer that issued tokens but is otherwise invalid ends the approval InvalidProviderResponse, and its tokens
 * reach nobody: revoke them here, before the activity fails, within the attempt's time. Returns what became of them,
 * in words (no token), for the failure's message; undefined when the answer carried none.
 */
async function revokeTokensOfInvalidAnswer(
  ciba: CibaClient,
  profile: ProviderProfile,
  error: unknown,
  /** The activity's context, read only when the answer carried tokens; undefined outside an activity. */
  contextOf: () => Context | undefined,
  startedAtMs: number,
  keepAlive?: () => void,
): Promise<string | undefined> {
  const tokens = unreturnedTokensOf(error);
  if (!tokens) return undefined;
  const context = contextOf();
  const left = context
    ? context.info.startToCloseTimeoutMs - (Date.now() - startedAtMs) - REVOCATION_MARGIN_MS
    : INVALID_ANSWER_REVOCATION_MS;
  const budgetMs = Math.min(INVALID_ANSWER_REVOCATION_MS, left);
  if (budgetMs <= 0) return 'not revoked (no time left in this attempt)';
  keepAlive?.();
  const heartbeats = keepAlive && setInterval(keepAlive, 5_000);
  let timer: NodeJS.Timeout | undefined;
  try {
    const report = await Promise.race([
      revokeAtProvider(ciba, profile, tokens),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), budgetMs))),
    ]);
    const outcome = report ? describeRevocations(report) : `revocation unfinished after ${budgetMs} ms`;
    context?.log.warn(`invalid token response: tokens it carried: ${outcome}`);
    return outcome;
  } finally {
    clearTimeout(timer);
    if (heartbeats) clearInterval(heartbeats);
  }
}

function pollFailure(
  error: unknown,
  intervalSeconds: number,
  profile: ProviderProfile,
  /** What became of the tokens an invalid answer carried. */
  revoked?: string,
): unknown {
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
    const message = revoked ? `${error.message}; the tokens it carried: ${revoked}` : error.message;
    return ApplicationFailure.nonRetryable(message, ApprovalFailureType.InvalidProviderResponse);
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
