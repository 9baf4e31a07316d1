/**
 * One human approval, as a durable workflow. It sends a CIBA backchannel authentication request, then polls the
 * token endpoint in a loop of durable timers and polling activities until the user decides. When a request expires
 * (or its token response is lost) before the approval's own deadline, it asks again, by the input's policy.
 * It continues as new before its history grows large, carrying its whole state, so any wait stays bounded.
 *
 * The decisions live in ./polling.ts (pure); this file runs them against Temporal.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  ContinueAsNew,
  defineQuery,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { CibaActivities } from '../activities/activities';
import type { BackchannelAcknowledgment, PollOutcome } from '../activities/ciba-protocol';
import {
  ActivityFailureType,
  ApprovalFailureType,
  ApprovalRequestSchema,
  formatZodError,
  type ApprovalAttempt,
  type ApprovalRequest,
  type ApprovalRequestInput,
  type ApprovalResult,
  type ApprovalState,
  type ApprovalStatus,
  type AskReason,
} from '../common/approval';
import { CIBA_APPROVAL_STATUS } from '../common/search-attributes';
import { checkGrantedAuthorizationDetails } from './granted';
import { decide, nextAsk, nextPollDelaySeconds, startPolling, type PollingState } from './polling';

export const approvalStatusQuery = defineQuery<ApprovalState>('status');

/** Everything a run hands to the next one when it continues as new. */
export interface ApprovalCarryOver {
  approvalDeadlineMs: number;
  /** Backchannel requests sent so far. */
  asks: number;
  /** The most recent requests (at most RECENT_ATTEMPTS), so that state stays small over a 30-day window. */
  attempts: ApprovalAttempt[];
  continuedAsNew: number;
  /** Totals over all requests and runs. */
  polls: number;
  slowDowns: number;
  lastPollAt?: string;
  lastPollOutcome?: string;
  /** Exactly one of: the request being polled, or the next request to send. */
  polling?: PollingState;
  nextAsk?: { reason: AskReason; atMs: number };
}

/** How many of the latest requests the status query (and the carried state) keeps. */
const RECENT_ATTEMPTS = 20;

/**
 * Runs started before a lost answer stopped being asked again by default keep the old default (they may already have
 * asked again: replaying them must take the same path).
 */
const LOST_ANSWER_NOT_ASKED_AGAIN = 'lost-answer-not-asked-again-by-default';

/** How often, at most, a backchannel request that certainly did not reach the provider is sent again. */
const MAX_INITIATION_ATTEMPTS = 5;

/** Options are given per call (below), where the reason for each retry policy is. */
const ciba = proxyActivities<CibaActivities>({ startToCloseTimeout: '30s' });

/**
 * Initiation: exactly one attempt per activity call. A worker that dies mid-request leaves Temporal unable to
 * tell whether the provider accepted it, and a blind retry could notify the user twice; the workflow re-sends
 * only failures typed InitiationNotSent.
 */
const INITIATION_OPTIONS: ActivityOptions = { startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } };

export async function cibaApproval(input: ApprovalRequestInput, carried?: ApprovalCarryOver): Promise<ApprovalResult> {
  const parsed = ApprovalRequestSchema.safeParse(input);
  if (!parsed.success) {
    const failure = ApplicationFailure.nonRetryable(formatZodError(parsed.error), ApprovalFailureType.InvalidRequest);
    setHandler(approvalStatusQuery, () => ({
      status: 'failed',
      bindingMessage: String((input as { bindingMessage?: unknown } | undefined)?.bindingMessage ?? ''),
      approvalDeadline: new Date().toISOString(),
      asks: 0,
      attempts: [],
      continuedAsNew: 0,
      polls: 0,
      slowDowns: 0,
      failure: { type: ApprovalFailureType.InvalidRequest, message: failure.message },
    }));
    throw failure;
  }
  const request = parsed.data;
  const run: ApprovalCarryOver = carried ?? {
    approvalDeadlineMs: Date.now() + request.approvalTimeout * 1000,
    asks: 0,
    attempts: [],
    continuedAsNew: 0,
    polls: 0,
    slowDowns: 0,
    nextAsk: { reason: 'first', atMs: Date.now() },
  };
  let status: ApprovalStatus = run.polling ? 'pending' : 'initiating';
  let failure: ApprovalState['failure'];
  setHandler(approvalStatusQuery, () => ({
    status,
    bindingMessage: request.bindingMessage,
    approvalDeadline: new Date(run.approvalDeadlineMs).toISOString(),
    asks: run.asks,
    attempts: run.attempts,
    continuedAsNew: run.continuedAsNew,
    authReqId: run.polling?.authReqId,
    expiresAt: run.polling && new Date(run.polling.expiresAtMs).toISOString(),
    intervalSeconds: run.polling?.intervalSeconds,
    polls: run.polls,
    slowDowns: run.slowDowns,
    lastPollAt: run.lastPollAt,
    lastPollOutcome: run.lastPollOutcome,
    failure,
  }));
  const setStatus = (next: ApprovalStatus, force = false) => {
    if (next === status && !force) return; // an upsert is a history event: only on change
    status = next;
    upsertSearchAttributes([{ key: CIBA_APPROVAL_STATUS, value: next }]);
  };
  setStatus(status, true);

  try {
    for (;;) {
      if (run.nextAsk) {
        const { reason, atMs } = run.nextAsk;
        if (atMs > Date.now()) await sleep(atMs - Date.now(), { summary: `wait before asking again (${reason})` });
        const ack = await initiate(request, run.asks + 1, reason);
        run.polling = startPolling(ack, Date.now());
        run.asks += 1;
        run.attempts = run.attempts.slice(-(RECENT_ATTEMPTS - 1));
        run.attempts.push({
          attempt: run.asks,
          reason,
          requestedAt: new Date().toISOString(),
          authReqId: ack.authReqId,
          expiresAt: new Date(run.polling.expiresAtMs).toISOString(),
        });
        run.nextAsk = undefined;
        setStatus('pending');
      }
      const polling = run.polling!;

      // A safe point between polls: hand the whole state to a fresh run before the history grows large.
      const info = workflowInfo();
      if (info.historyLength >= request.continueAsNewAfterEvents || info.continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof cibaApproval>(request, { ...run, continuedAsNew: run.continuedAsNew + 1 });
      }

      const delay = nextPollDelaySeconds(polling, Date.now(), run.approvalDeadlineMs);
      await sleep(delay * 1000, { summary: `wait ${delay}s before poll ${polling.polls + 1} of request ${run.asks}` });
      const outcome = await poll(polling, run.asks);
      const decision = decide(polling, outcome, Date.now(), run.approvalDeadlineMs);
      run.polls += 1;
      run.lastPollAt = new Date().toISOString();
      run.lastPollOutcome = outcome.kind;
      const current = run.attempts[run.attempts.length - 1]!;

      switch (decision.kind) {
        case 'poll_again':
          run.slowDowns += decision.state.slowDowns - polling.slowDowns;
          run.polling = decision.state;
          continue;
        case 'approved': {
          const grant = checkGrantedAuthorizationDetails(
            request.authorizationDetails,
            decision.tokens.authorizationDetails,
            request.ungrantedAuthorizationDetails,
          );
          if (!grant.ok) {
            current.outcome = 'not_granted';
            throw ApplicationFailure.create({
              message: grant.message,
              type: ApprovalFailureType.AuthorizationDetailsNotGranted,
              nonRetryable: true,
              details: [{ requested: grant.requested, granted: grant.granted }],
            });
          }
          current.outcome = 'approved';
          setStatus('approved');
          return { ...decision.tokens, approvedAt: new Date().toISOString() };
        }
        case 'denied':
          current.outcome = 'denied';
          throw ApplicationFailure.nonRetryable(decision.message, ApprovalFailureType.Denied);
        case 'request_ended': {
          current.outcome = decision.reason;
          const policy =
            decision.reason === 'lost_token_response' && !patched(LOST_ANSWER_NOT_ASKED_AGAIN)
              ? { ...request.askAgain, afterLostAnswer: true }
              : request.askAgain;
          const next = nextAsk(decision, run.asks, policy, Date.now(), run.approvalDeadlineMs);
          if (next.kind === 'fail') {
            throw ApplicationFailure.create({
              message: next.message,
              type: next.type,
              nonRetryable: true,
              details: next.details ? [next.details] : undefined,
            });
          }
          run.polling = undefined;
          run.nextAsk = { reason: next.reason, atMs: next.atMs };
        }
      }
    }
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    const ended = approvalFailure(error);
    if (isCancellation(ended)) {
      setStatus('cancelled');
    } else if (ended instanceof ApplicationFailure && ended.type) {
      failure = { type: ended.type as ApprovalFailureType, message: ended.message };
      setStatus(ended.type === ApprovalFailureType.Denied ? 'denied' : ended.type === ApprovalFailureType.Expired ? 'expired' : 'failed');
    } else {
      setStatus('failed');
    }
    throw ended;
  }
}

/** Sends the backchannel request, again only when the provider cannot have seen the previous one. */
async function initiate(request: ApprovalRequest, ask: number, reason: AskReason): Promise<BackchannelAcknowledgment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ciba.requestBackchannelAuthentication.executeWithOptions(
        { ...INITIATION_OPTIONS, summary: `backchannel request ${ask}${attempt > 1 ? `, sent again (${attempt})` : ''}` },
        [request, { reason }],
      );
    } catch (error) {
      const cause = error instanceof ActivityFailure ? error.cause : undefined;
      if (error instanceof ActivityFailure && !isCancellation(error) && !(cause instanceof ApplicationFailure && cause.nonRetryable)) {
        // The activity timed out (its worker died mid-request) or failed untyped: the request may have reached the
        // provider, which may have notified the user. Same rule as any other uncertain initiation: not sent again.
        throw ApplicationFailure.nonRetryable(
          `the backchannel authentication request may have reached the provider, which may have notified the user; ` +
            `it is not sent again automatically (${cause?.message ?? error.message})`,
          ApprovalFailureType.InitiationUncertain,
        );
      }
      if (!(cause instanceof ApplicationFailure) || cause.type !== ActivityFailureType.InitiationNotSent) throw error;
      if (attempt >= MAX_INITIATION_ATTEMPTS) {
        throw ApplicationFailure.nonRetryable(
          `the provider could not be reached after ${attempt} attempts: ${cause.message}`,
          ApprovalFailureType.ProviderUnavailable,
        );
      }
      const retryAfter = (cause.details?.[0] as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      await sleep(Math.max(retryAfter ?? 0, 2 ** attempt) * 1000);
    }
  }
}

/**
 * One poll, with Temporal retrying transient faults: never sooner than the polling interval, backing off to a
 * minute, and giving up once the request has expired (the workflow then treats it as expired).
 */
async function poll(polling: PollingState, ask: number): Promise<PollOutcome> {
  const untilExpiry = Math.max(0, polling.expiresAtMs - Date.now());
  const options: ActivityOptions = {
    startToCloseTimeout: '30s',
    scheduleToCloseTimeout: untilExpiry + 60_000,
    // Never shorter than the interval (a provider may ask for more than a minute, and slow_down grows it).
    retry: {
      initialInterval: `${polling.intervalSeconds}s`,
      backoffCoefficient: 2,
      maximumInterval: `${Math.max(60, polling.intervalSeconds)}s`,
    },
    summary: `poll ${polling.polls + 1} of request ${ask}`,
  };
  try {
    return await ciba.pollToken.executeWithOptions(options, [{ authReqId: polling.authReqId, intervalSeconds: polling.intervalSeconds }]);
  } catch (error) {
    if (error instanceof ActivityFailure && error.cause instanceof TimeoutFailure) {
      // Retries ran out of time: the provider was unreachable until the request expired.
      return { kind: 'expired_token', description: `the provider could not be polled before the request expired (${error.cause.message})` };
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
