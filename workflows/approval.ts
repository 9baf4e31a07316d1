/**
 * One human approval, as a durable workflow: a CIBA backchannel authentication request, then a loop of durable
 * timers and polls of the token endpoint until the user decides or the request expires. The decisions live in
 * ./polling.ts (pure); this file runs them against Temporal.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  TimeoutFailure,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { CibaActivities } from '../activities/activities';
import {
  ActivityFailureType,
  ApprovalFailureType,
  ApprovalRequestSchema,
  formatZodError,
  type ApprovalRequest,
  type ApprovalRequestInput,
  type ApprovalResult,
  type ApprovalState,
  type ApprovalStatus,
} from '../common/approval';
import { CIBA_APPROVAL_STATUS } from '../common/search-attributes';
import { decide, startPolling, type PollingState } from './polling';
import type { BackchannelAcknowledgment } from '../activities/ciba-protocol';

export const approvalStatusQuery = defineQuery<ApprovalState>('status');

/** How often, at most, a backchannel request that certainly did not reach the provider is sent again. */
const MAX_INITIATION_ATTEMPTS = 5;

/** Options are given per call (below), where the reason for each retry policy is. */
const ciba = proxyActivities<CibaActivities>({ startToCloseTimeout: '30s' });

/**
 * Initiation: exactly one attempt per activity call. A worker that dies mid-request leaves Temporal unable to
 * tell whether the provider accepted it, and a blind retry could notify the user twice; the workflow retries
 * only failures typed InitiationNotSent.
 */
const INITIATION_OPTIONS: ActivityOptions = { startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } };

export async function cibaApproval(input: ApprovalRequestInput): Promise<ApprovalResult> {
  const parsed = ApprovalRequestSchema.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(formatZodError(parsed.error), ApprovalFailureType.InvalidRequest);
  }
  const request = parsed.data;
  const state: ApprovalState = { status: 'initiating', bindingMessage: request.bindingMessage, polls: 0, slowDowns: 0 };
  setHandler(approvalStatusQuery, () => state);
  const setStatus = (status: ApprovalStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: CIBA_APPROVAL_STATUS, value: status }]);
  };
  setStatus('initiating');

  try {
    const ack = await initiate(request);
    let polling = startPolling(ack, Date.now());
    Object.assign(state, {
      authReqId: polling.authReqId,
      expiresAt: new Date(polling.expiresAtMs).toISOString(),
      intervalSeconds: polling.intervalSeconds,
    });
    setStatus('pending');

    for (;;) {
      await sleep(polling.intervalSeconds * 1000, { summary: `wait ${polling.intervalSeconds}s before poll ${polling.polls + 1}` });
      const outcome = await poll(polling);
      const decision = decide(polling, outcome, Date.now());
      Object.assign(state, { polls: state.polls + 1, lastPollAt: new Date().toISOString(), lastPollOutcome: outcome.kind });
      if (decision.kind === 'approved') {
        setStatus('approved');
        return { ...decision.tokens, approvedAt: new Date().toISOString() };
      }
      if (decision.kind === 'fail') throw ApplicationFailure.nonRetryable(decision.message, decision.type);
      polling = decision.state;
      Object.assign(state, { intervalSeconds: polling.intervalSeconds, slowDowns: polling.slowDowns });
    }
  } catch (error) {
    const failure = approvalFailure(error);
    if (isCancellation(failure)) {
      setStatus('cancelled');
    } else if (failure instanceof ApplicationFailure && failure.type) {
      state.failure = { type: failure.type as ApprovalFailureType, message: failure.message };
      setStatus(failure.type === ApprovalFailureType.Denied ? 'denied' : failure.type === ApprovalFailureType.Expired ? 'expired' : 'failed');
    } else {
      setStatus('failed');
    }
    throw failure;
  }
}

/** Sends the backchannel request, again only when the provider cannot have seen the previous one. */
async function initiate(request: ApprovalRequest): Promise<BackchannelAcknowledgment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ciba.requestBackchannelAuthentication.executeWithOptions(
        { ...INITIATION_OPTIONS, summary: `backchannel request, attempt ${attempt}` },
        [request],
      );
    } catch (error) {
      const cause = error instanceof ActivityFailure ? error.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === ActivityFailureType.InitiationNotSent && attempt < MAX_INITIATION_ATTEMPTS) {
        const retryAfter = (cause.details?.[0] as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
        await sleep(Math.max(retryAfter ?? 0, 2 ** attempt) * 1000);
        continue;
      }
      if (cause instanceof ApplicationFailure && cause.type === ActivityFailureType.InitiationNotSent) {
        throw ApplicationFailure.nonRetryable(
          `the provider could not be reached after ${attempt} attempts: ${cause.message}`,
          ActivityFailureType.ProviderUnavailable,
        );
      }
      throw error;
    }
  }
}

/**
 * One poll, with Temporal retrying transient faults: never sooner than the polling interval, backing off to a
 * minute, and giving up once the request has expired (the workflow then reports it expired).
 */
async function poll(polling: PollingState) {
  const untilExpiry = Math.max(0, polling.expiresAtMs - Date.now());
  const options: ActivityOptions = {
    startToCloseTimeout: '30s',
    scheduleToCloseTimeout: untilExpiry + 60_000,
    retry: { initialInterval: `${polling.intervalSeconds}s`, backoffCoefficient: 2, maximumInterval: '60s' },
    summary: `poll ${polling.polls + 1}`,
  };
  try {
    return await ciba.pollToken.executeWithOptions(options, [
      { authReqId: polling.authReqId, intervalSeconds: polling.intervalSeconds },
    ]);
  } catch (error) {
    if (error instanceof ActivityFailure && error.cause instanceof TimeoutFailure) {
      // Retries ran out of time: the provider was unreachable until the request expired.
      throw ApplicationFailure.nonRetryable(
        `the provider could not be polled before the request expired: ${error.cause?.message ?? error.message}`,
        ApprovalFailureType.Expired,
      );
    }
    throw error;
  }
}

/** The failure the approval ends with: an activity's typed failure is surfaced as the workflow's own. */
function approvalFailure(error: unknown): unknown {
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
    return ApplicationFailure.nonRetryable(error.cause?.message ?? error.message, 'ActivityFailed');
  }
  return error;
}
