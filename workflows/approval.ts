/**
 * One human approval, as a durable workflow, in the steps of CIBA (poll mode): validate the request, ask the user
 * (backchannel authentication request), wait and poll the token endpoint until the user decides, hand the tokens
 * back. When an ask expires (or its final answer is lost) before the approval's own deadline, it asks again, by the
 * input's policy. It continues as new before its history grows large, carrying its whole state.
 *
 * The decisions live in ./polling.ts, the bookkeeping in ./approval-state.ts, the failure mapping in ./failures.ts
 * (all pure); this file runs them against Temporal.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  ContinueAsNew,
  defineQuery,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  ActivityCancellationType,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { CibaActivities, RevokeTokensInput, WorkerSettingsActivities } from '../activities/activities';
import type { CompactPollInput, CompactTierResult } from '../activities/compact-polling';
import type { BackchannelAcknowledgment, PollOutcome, TokenSet } from '../activities/ciba-protocol';
import type {
  ApprovalFailureInfo,
  ApprovalRequest,
  ApprovalRequestInput,
  ApprovalResult,
  ApprovalState,
  AskReason,
  PollingMode,
} from '../common/approval';
import { ApprovalFailureType, type ApprovalStatus } from '../common/outcomes';
import { CIBA_APPROVAL_STATUS, CIBA_PROVIDER, CIBA_REQUEST_EXPIRES_AT } from '../common/search-attributes';
import {
  firstRun,
  forNextRun,
  fromCarried,
  invalidInputStatus,
  recordAsk,
  recordAskOutcome,
  recordPoll,
  recordPolls,
  recordTierPolls,
  scheduleAsk,
  statusAnswer,
  type ApprovalCarryOver,
  type LegacyCarryOver,
  type NextAsk,
} from './approval-state';
import { currentDetails } from './current-details';
import { afterSendFailure, approvalFailure, asApprovalFailure, endedWith } from './failures';
import { checkGrantedTokens, type GrantCheck } from './granted';
import { pingSignal } from './signals';
import { acquireAsk, askGateVersion, releaseAsk, type AskGateVersion } from './ask-gate';
import { since, startPatches, type ApprovalPatch } from './patches';
import { checkStartSeal } from './sealed-start';
import { approvalRules } from './input-rules';
import { ApprovalMetrics } from './metrics';
import {
  interpretPollAnswer,
  nextAsk,
  nextPollDelaySeconds,
  isTimerIdle,
  timerSlowSeconds,
  slowTierHeartbeatTimeoutMs,
  type PollDecision,
  type PollingState,
} from './polling';

export const approvalStatusQuery = defineQuery<ApprovalState>('status');

/**
 * Runs started before a lost answer stopped being asked again by default keep the old default (they may already have
 * asked again: replaying them must take the same path).
 */
const LOST_ANSWER_NOT_ASKED_AGAIN: ApprovalPatch = 'lost-answer-not-asked-again-by-default';

/** Runs started before polling modes existed poll with timers, and ask the worker nothing. */
const POLLING_MODES: ApprovalPatch = 'polling-modes';

/** Runs started before these search attributes existed upsert only the status (their histories say so). */
const ASK_SEARCH_ATTRIBUTES: ApprovalPatch = 'ask-search-attributes';

/**
 * Runs started before start seals, the per-user ask gate and the request rules of that release (safe text, length
 * limits, ask bounds) run as they did. New runs refuse an unsealed or replayed input, validate by today's rules, and
 * ask only what the user's gate grants.
 */
const SEALED_AND_GATED: ApprovalPatch = 'sealed-start-and-ask-gate';

/** Options are given per call (below), where the reason for each retry policy is. */
const ciba = proxyActivities<CibaActivities>({ startToCloseTimeout: '30s' });
const workerSettings = proxyLocalActivities<WorkerSettingsActivities>({ startToCloseTimeout: '10s' });
/** A cancelled approval asks its waiting poll to heartbeat now (one try: the heartbeat period, or the wait's end, is the fallback). */
const waitingPolls = proxyLocalActivities<Pick<CibaActivities, 'heartbeatWaitingPoll'>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});

/**
 * Compact mode in two tiers: new runs ask the worker for its wait settings (polling mode and tiers) in the one local
 * activity that asked for the polling mode; each ask is polled by a fast-tier activity, then a slow-tier one that
 * heartbeats rarely. Runs from before (no tiers in their state) poll each ask with one activity, as they did.
 */
const COMPACT_TIERS: ApprovalPatch = 'compact-heartbeat-tiers';

/** Timer mode with ping, after the fast window: a fallback poll every PING_FALLBACK_POLL_SECONDS (the ping is the signal). */
const PING_FALLBACK: ApprovalPatch = 'ping-fallback-poll';
/**
 * Timer mode without ping, half an hour after the ask: a poll every TIMER_IDLE_POLL_SECONDS (2 min) instead of 30 s.
 * Asked only once an ask is that old, after a timer or an activity (never right after a local activity), so running
 * approvals take it too from their next poll on.
 */
const TIMER_IDLE_TIER: ApprovalPatch = 'timer-idle-tier';

/**
 * Compact mode: a worker that dies mid-wait is noticed within this, and its polling resumes on another worker (or the
 * restarted one) from the last heartbeat. The activity learns of a cancellation at its next heartbeat to the server.
 */
const COMPACT_HEARTBEAT_TIMEOUT_MS = 20_000;
/** Compact mode: after an ask expired, how long faults may keep the activity trying (as timer mode's retries). */
const COMPACT_GRACE_MS = 2 * 60_000;

/**
 * Initiation: exactly one attempt per activity call. A worker that dies mid-request leaves Temporal unable to
 * tell whether the provider accepted it, and a blind retry could notify the user twice; the workflow sends again
 * only failures typed InitiationNotSent.
 */
const INITIATION_OPTIONS: ActivityOptions = { startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } };

/**
 * Tokens the provider issued that the agent never gets (not granted; cancelled while the final answer was on its way)
 * are revoked at the provider (RFC 7009), and a poll in flight at cancellation is waited for so that its tokens are
 * not dropped unrevoked. Runs from before it do neither (their histories say so).
 */
const REVOKE_UNRETURNED_TOKENS: ApprovalPatch = 'revoke-unreturned-tokens';

/** Runs from before it check the token response's authorization_details only, not the JWT access token's claim. */
const ACCESS_TOKEN_CLAIM_CHECK: ApprovalPatch = 'granted-access-token-claim';

/**
 * Revocation: best effort, a few tries (each revokes what it can; revoking a revoked token again is harmless, RFC 7009
 * 2.2). Two requests, each within the HTTP timeout after its turn, fit the start-to-close timeout.
 */
const REVOCATION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '60s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumAttempts: 3 },
  summary: 'revoke the tokens not handed back',
};

/** One approval as the status query sees it; each step updates it. */
interface Approval {
  readonly request: ApprovalRequest;
  run: ApprovalCarryOver;
  status: ApprovalStatus;
  failure?: ApprovalFailureInfo;
  /** The ask a ping said was decided (CIBA ping mode), until the poll it causes. */
  pinged?: string;
  /** The latest poll a ping caused: another ping for that ask within its interval changes nothing. */
  pingPoll?: { authReqId: string; atMs: number };
  /** Each ask is granted by the user's ask gate first (runs since the start seal). */
  gated: boolean;
  /** How a gated run asks its gate (a local activity, or an activity since the patch ask-gate-activity). */
  askGate?: AskGateVersion;
  /** Tokens obtained but not handed back, revoked as the approval ends (revokeUnreturnedTokens). */
  unreturned?: { reason: RevokeTokensInput['reason']; tokens: TokenSet };
  /** This run's metrics (./metrics.ts), reported before the run closes. */
  readonly metrics: ApprovalMetrics;
}

export async function cibaApproval(
  input: ApprovalRequestInput,
  carried?: ApprovalCarryOver | LegacyCarryOver,
): Promise<ApprovalResult> {
  startPatches(); // first: whether this run asks each patch apart (runs from before) or took them all (./patches.ts)
  const gated = since(SEALED_AND_GATED);
  // Asked here, at the run's first activation, not at the ask: a patch asked right after a local activity (the wait
  // settings) can land in another workflow task on replay than it did when it ran (./ask-gate.ts).
  const askGate = gated ? askGateVersion() : undefined;
  if (gated) checkStartSeal(input.seal); // before anything else: a copied input does nothing
  const request = validate(input, gated);
  const metrics = new ApprovalMetrics();
  if (!carried) metrics.started(); // continued-as-new runs are the same approval
  const run = carried ? fromCarried(carried) : firstRun(request.approvalTimeout, Date.now());
  const approval: Approval = {
    request,
    run,
    status: run.polling ? 'pending' : 'initiating',
    gated,
    askGate,
    metrics,
  };
  setHandler(approvalStatusQuery, () =>
    statusAnswer(request.bindingMessage, approval.run, approval.status, approval.failure),
  );
  setHandler(pingSignal, ({ authReqId }) => notePing(approval, authReqId));
  upsertStatus(approval.status);
  showDetails(approval);
  try {
    await choosePollingMode(approval);
    const tokens = await waitForDecision(approval);
    const result = handBack(approval, tokens);
    await metrics.flush();
    return result;
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    await askEnded(approval); // the approval ends while its ask may still be pending
    const failure = asApprovalFailure(error);
    const ended = endedWith(failure);
    approval.failure = ended.failure;
    setStatus(approval, ended.status);
    metrics.ended(ended.status, ended.failure?.type);
    await revokeUnreturnedTokens(approval);
    await metrics.flush();
    throw failure;
  }
}

/** Validate: the request is checked again here (histories outlive clients); an invalid one ends the approval at once. */
function validate(input: ApprovalRequestInput, currentRules: boolean): ApprovalRequest {
  // The schemas are built once per isolate, not per workflow (workflows/input-rules.ts).
  const rules = approvalRules();
  // Runs from before safe text, length limits and ask bounds are read by the rules they started under.
  const schema = currentRules ? rules.ApprovalRequestSchema : rules.legacyApprovalRequestSchema();
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const failure = { type: ApprovalFailureType.InvalidRequest, message: rules.formatZodError(parsed.error) };
  setHandler(approvalStatusQuery, () => invalidInputStatus(input, failure, Date.now()));
  throw approvalFailure(failure.type, failure.message);
}

/** Ask, then wait and poll until the user's final answer; ask again when an ask ends undecided. */
async function waitForDecision(approval: Approval): Promise<TokenSet> {
  let decision: PollDecision;
  do {
    if (approval.run.nextAsk) await ask(approval, approval.run.nextAsk);
    await continueAsNewWhenLarge(approval);
    decision = approval.run.pollingMode === 'compact' ? await pollUntilDecided(approval) : await pollOnce(approval);
    approval.metrics.decision(approval.run, decision);
    if (decision.kind !== 'poll_again') await askEnded(approval);
    if (decision.kind === 'denied') {
      approval.run = recordAskOutcome(approval.run, 'denied');
      throw approvalFailure(ApprovalFailureType.Denied, decision.message);
    }
    if (decision.kind === 'ask_ended') askAgainOrGiveUp(approval, decision);
  } while (decision.kind !== 'approved');
  return decision.tokens;
}

/** Ask (CIBA Core 7): send a backchannel authentication request, after the delay the ask-again policy wants. */
async function ask(approval: Approval, { reason, atMs }: NextAsk): Promise<void> {
  if (atMs > Date.now()) await sleep(atMs - Date.now(), { summary: `wait before asking again (${reason})` });
  if (approval.gated) {
    const askGate = await acquireAsk(
      approval.request,
      approval.request.seal!.requestId,
      approval.run.askCount + 1,
      approval.askGate!,
    );
    approval.run = { ...approval.run, askGate };
  }
  const ack = await sendBackchannelRequest(approval.request, approval.run.askCount + 1, reason);
  approval.run = recordAsk(approval.run, reason, ack, Date.now());
  // What people filter on besides the status: this ask's expiry, and the provider (not secret, not personal).
  const searchable: SearchAttributeUpdatePair[] = since(ASK_SEARCH_ATTRIBUTES)
    ? [
        { key: CIBA_REQUEST_EXPIRES_AT, value: new Date(approval.run.polling!.expiresAtMs) },
        ...(ack.issuer ? [{ key: CIBA_PROVIDER, value: ack.issuer }] : []),
      ]
    : [];
  setStatus(approval, 'pending', searchable); // the current details follow at once, with the next poll
}

/** The current ask ended (decided, expired, lost) or the approval did: the user's gate frees its lease. */
async function askEnded(approval: Approval): Promise<void> {
  const gate = approval.run.askGate;
  if (!gate) return;
  approval.run = { ...approval.run, askGate: undefined };
  await releaseAsk(gate);
}

/** A safe point between polls: hand the whole state to a fresh run before the history grows large. */
async function continueAsNewWhenLarge(approval: Approval): Promise<void> {
  const info = workflowInfo();
  if (info.historyLength < approval.request.continueAsNewAfterEvents && !info.continueAsNewSuggested) return;
  await condition(allHandlersFinished);
  await approval.metrics.flush(); // the start's report, before this run closes
  await continueAsNew<typeof cibaApproval>(approval.request, forNextRun(approval.run));
}

/** Wait and poll (CIBA Core 10.1): sleep the polling interval, poll the token endpoint once, and read the answer. */
async function pollOnce(approval: Approval): Promise<PollDecision> {
  const { askCount, approvalDeadlineMs } = approval.run;
  const polling = approval.run.polling!; // set by the ask this poll belongs to
  const pinged = polling.ping && since(PING_FALLBACK);
  const idleTier = !pinged && isTimerIdle(polling, Date.now()) && since(TIMER_IDLE_TIER);
  const slowSeconds = timerSlowSeconds(polling, Date.now(), { ping: Boolean(pinged), idleTier });
  const delay = nextPollDelaySeconds(polling, Date.now(), approvalDeadlineMs, undefined, slowSeconds);
  showDetails(approval, Date.now() + delay * 1000);
  // A durable timer, then the poll: timer mode's wait is the server's (the UI's timeline shows it, a time-skipping test
  // server skips it, no worker holds it). Waiting inside the poll activity would save the timer's action but lose all
  // three; compact mode is the cheap way to wait long (docs/waiting-costs.md).
  await sleepUnlessPinged(approval, polling.authReqId, delay * 1000, {
    summary: `wait ${delay}s before poll ${polling.polls + 1} of ask ${askCount}`,
  });
  const answer = await pollTokenEndpoint(polling, askCount);
  const decision = interpretPollAnswer(polling, answer, Date.now(), approvalDeadlineMs);
  approval.run = recordPoll(approval.run, answer, decision, Date.now());
  return decision;
}

/**
 * Compact mode (CIBA Core 10.1 all the same): an activity polls the ask at its interval until a final answer,
 * heartbeating its progress; the answer is read here exactly as pollOnce reads one. With tiers (runs since
 * COMPACT_TIERS), a fast-tier activity first, then a slow-tier one that heartbeats rarely.
 */
async function pollUntilDecided(approval: Approval): Promise<PollDecision> {
  const { approvalDeadlineMs, compactTiers } = approval.run;
  const polling = approval.run.polling!; // set by the ask this poll belongs to
  showDetails(approval);
  let result: CompactTierResult;
  if (!compactTiers) {
    result = await compactPoll(approval, { polling, approvalDeadlineMs }, COMPACT_HEARTBEAT_TIMEOUT_MS, 'until');
  } else {
    const endsAtMs = polling.askedAtMs + compactTiers.fastSeconds * 1000;
    result =
      Date.now() < endsAtMs
        ? await compactPoll(
            approval,
            { polling, approvalDeadlineMs, tier: { kind: 'fast', endsAtMs } },
            COMPACT_HEARTBEAT_TIMEOUT_MS,
            'fast tier: until',
          )
        : { tierEnded: { polling, faultsInARow: 0 } };
    if ('tierEnded' in result) {
      const resumeFrom = result.tierEnded;
      approval.run = recordTierPolls(approval.run, resumeFrom);
      showDetails(approval);
      const slowInput: CompactPollInput = {
        polling: resumeFrom.polling,
        approvalDeadlineMs,
        tier: { kind: 'slow', heartbeatEveryMs: compactTiers.slowHeartbeatSeconds * 1000 },
        resumeFrom,
      };
      const heartbeatTimeoutMs = slowTierHeartbeatTimeoutMs(compactTiers);
      result = await wakeLoopOnCancel(resumeFrom.polling, () =>
        compactPoll(approval, slowInput, heartbeatTimeoutMs, 'slow tier: until'),
      );
    }
  }
  if ('tierEnded' in result) {
    // Only a fast tier ends so; its code above always follows it with the slow one.
    throw approvalFailure(ApprovalFailureType.InvalidProviderResponse, 'compact polling ended without an answer');
  }
  const decision = interpretPollAnswer(result.polling, result.answer, result.polledAtMs, approvalDeadlineMs);
  approval.run = recordPolls(approval.run, result, decision);
  return decision;
}

/** One compact polling activity for the current ask, until its final answer (or its tier's end). */
async function compactPoll(
  approval: Approval,
  input: CompactPollInput,
  heartbeatTimeoutMs: number,
  what: string,
): Promise<CompactTierResult> {
  const { askCount } = approval.run;
  const { polling, approvalDeadlineMs } = input;
  const untilEnd = Math.max(0, Math.min(polling.expiresAtMs, approvalDeadlineMs) - Date.now());
  try {
    return await ciba.pollUntilDecided.executeWithOptions(
      {
        startToCloseTimeout: untilEnd + COMPACT_GRACE_MS,
        scheduleToCloseTimeout: untilEnd + COMPACT_GRACE_MS,
        heartbeatTimeout: heartbeatTimeoutMs,
        // A new attempt follows a worker's death (heartbeat timeout) or an unexpected error; it resumes from the last
        // heartbeat. Provider faults are retried inside the activity.
        retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: `${polling.intervalSeconds}s` },
        summary: `poll ask ${askCount} ${what} the user decides (every ${polling.intervalSeconds}s or more)`,
        ...pollCancellation(),
      },
      [input],
    );
  } catch (error) {
    if (!isTimeout(error)) throw error;
    const description = `the provider could not be polled before the request expired (${error.cause.message})`;
    return { polling, answer: { kind: 'expired_token', description }, polledAtMs: Date.now() };
  }
}

/**
 * A slow-tier activity learns of a cancellation at its next heartbeat, minutes away. When the approval is cancelled
 * while it runs, a local activity asks the loop to heartbeat now: at once when the loop runs in the worker that runs
 * this workflow task (one worker; or the same one, as eager activities and sticky workflows make likely), else at its
 * next heartbeat. The activity is still waited for (pollCancellation), so tokens it obtained are revoked.
 */
async function wakeLoopOnCancel<T>(polling: PollingState, run: () => Promise<T>): Promise<T> {
  let running = true;
  let woken: Promise<unknown> | undefined;
  CancellationScope.current().cancelRequested.catch(() => {
    if (!running) return;
    woken = CancellationScope.nonCancellable(() =>
      waitingPolls.heartbeatWaitingPoll({ authReqId: polling.authReqId }),
    ).catch(() => false); // the heartbeat period is the fallback
  });
  try {
    return await run();
  } finally {
    running = false;
    if (woken) await woken;
  }
}

/** The request's polling mode, else the worker's (asked once, recorded in the history, carried to later runs). */
async function choosePollingMode(approval: Approval): Promise<void> {
  if (approval.run.pollingMode) return;
  if (since(COMPACT_TIERS)) {
    const requested = approval.request.pollingMode;
    if (requested === 'timer') {
      approval.run = { ...approval.run, pollingMode: requested };
      return;
    }
    const settings = await workerSettings.workerWaitSettings();
    const pollingMode = requested ?? settings.pollingMode;
    approval.run = {
      ...approval.run,
      pollingMode,
      ...(pollingMode === 'compact' && { compactTiers: settings.compactTiers }),
    };
    return;
  }
  let mode: PollingMode = 'timer';
  if (approval.request.pollingMode) mode = approval.request.pollingMode;
  else if (since(POLLING_MODES)) mode = await workerSettings.workerPollingMode();
  approval.run = { ...approval.run, pollingMode: mode };
}

function isTimeout(error: unknown): error is ActivityFailure & { cause: TimeoutFailure } {
  return error instanceof ActivityFailure && error.cause instanceof TimeoutFailure;
}

/**
 * CIBA ping (Core 10.2): the provider says the user decided on `authReqId` (its bearer token was checked by the
 * notification endpoint). A ping for the current ask makes it poll at once, unless a ping made it poll within the
 * polling interval: repeated pings cost nothing. Pings for other asks are ignored. The poll's answer is the proof.
 */
function notePing(approval: Approval, authReqId: string): void {
  const polling = approval.run.polling;
  if (authReqId !== polling?.authReqId) return;
  const last = approval.pingPoll;
  if (last?.authReqId === authReqId && Date.now() - last.atMs < polling.intervalSeconds * 1000) return;
  approval.pinged = authReqId;
}

/** The timer before a poll, cut short by a ping for this ask (the timer is then cancelled). */
async function sleepUnlessPinged(
  approval: Approval,
  authReqId: string,
  ms: number,
  options: { summary: string },
): Promise<void> {
  const pinged = () => approval.pinged === authReqId;
  if (!pinged()) {
    await CancellationScope.cancellable(async () => {
      const timer = sleep(ms, options);
      const ping = condition(pinged);
      await Promise.race([timer, ping]);
      // End whichever still waits: the timer (a ping came first) or the wait for a ping (no command either way).
      CancellationScope.current().cancel();
      await Promise.allSettled([timer, ping]);
    });
  }
  if (pinged()) {
    approval.pinged = undefined;
    approval.pingPoll = { authReqId, atMs: Date.now() };
  }
}

/** An ask ended undecided (expired, or its answer lost): schedule the next ask, or end the approval. */
function askAgainOrGiveUp(approval: Approval, ended: Extract<PollDecision, { kind: 'ask_ended' }>): void {
  approval.run = recordAskOutcome(approval.run, ended.reason);
  const { askAgain } = approval.request;
  const policy =
    ended.reason === 'lost_token_response' && !since(LOST_ANSWER_NOT_ASKED_AGAIN)
      ? { ...askAgain, afterLostAnswer: true }
      : askAgain;
  const next = nextAsk(ended, approval.run.askCount, policy, Date.now(), approval.run.approvalDeadlineMs);
  if (next.kind === 'fail') throw approvalFailure(next.type, next.message, next.details);
  approval.run = scheduleAsk(approval.run, next);
}

/**
 * Hand back: the tokens reach the agent only if the provider granted exactly what was asked (RFC 9396), and only if
 * the approval was not cancelled while the poll that got them was in flight (nobody waits for them then). Tokens not
 * handed back are revoked as the approval ends.
 */
function handBack(approval: Approval, tokens: TokenSet): ApprovalResult {
  if (CancellationScope.current().consideredCancelled && since(REVOKE_UNRETURNED_TOKENS)) {
    approval.unreturned = { reason: 'cancelled', tokens };
    throw new CancelledFailure(
      'the approval was cancelled while the final answer was on its way; its tokens are revoked',
    );
  }
  const grant = checkGrant(approval.request, tokens);
  if (!grant.ok) {
    approval.run = recordAskOutcome(approval.run, 'not_granted');
    if (since(REVOKE_UNRETURNED_TOKENS)) approval.unreturned = { reason: 'not_granted', tokens };
    throw approvalFailure(ApprovalFailureType.AuthorizationDetailsNotGranted, grant.message, {
      requested: grant.requested,
      granted: grant.granted,
      ...(grant.grantedInAccessToken ? { grantedInAccessToken: grant.grantedInAccessToken } : {}),
    });
  }
  approval.run = recordAskOutcome(approval.run, 'approved');
  setStatus(approval, 'approved');
  approval.metrics.ended('approved');
  approval.metrics.result(tokens);
  return { ...tokens, approvedAt: new Date().toISOString() };
}

/**
 * What the provider granted, against the request (./granted.ts). The JWT access token's own claim counts since
 * ACCESS_TOKEN_CLAIM_CHECK; the patch is consulted only where the claim changes the outcome.
 */
function checkGrant(request: ApprovalRequest, tokens: TokenSet): GrantCheck {
  const { authorizationDetails: requested, ungrantedAuthorizationDetails: ungranted } = request;
  const check = checkGrantedTokens(requested, tokens, ungranted, { compareAccessTokenClaim: true });
  if (check.ok) return check;
  const responseOnly = checkGrantedTokens(requested, tokens, ungranted, { compareAccessTokenClaim: false });
  return responseOnly.ok && !since(ACCESS_TOKEN_CLAIM_CHECK) ? responseOnly : check;
}

/**
 * Tokens issued but not handed back (not granted, or cancelled after the final answer) are revoked at the provider,
 * best effort: the approval's outcome is decided already, and a revocation that fails never changes it.
 */
async function revokeUnreturnedTokens(approval: Approval): Promise<void> {
  const unreturned = approval.unreturned;
  if (!unreturned) return;
  approval.unreturned = undefined;
  const { accessToken, refreshToken } = unreturned.tokens;
  try {
    await CancellationScope.nonCancellable(() =>
      ciba.revokeTokens.executeWithOptions(REVOCATION_OPTIONS, [
        { tokens: { accessToken, refreshToken }, reason: unreturned.reason },
      ]),
    );
  } catch (error) {
    const reason = error instanceof ActivityFailure ? error.cause?.message : (error as Error).message;
    log.warn(`tokens not handed back were not all revoked: ${reason}`); // the activity's messages hold no token
  }
}

/**
 * A poll in flight when the approval is cancelled may bring the user's final answer: it is waited for (handBack then
 * revokes its tokens) rather than dropped with tokens the provider issued. Runs from before it drop it.
 */
function pollCancellation(): Pick<ActivityOptions, 'cancellationType'> {
  return since(REVOKE_UNRETURNED_TOKENS)
    ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }
    : {};
}

/**
 * The status word changes: in the status query, the search attribute (an upsert is a history event: only on change,
 * in one upsert with any other attributes that change with it) and the UI's current details.
 */
function setStatus(approval: Approval, next: ApprovalStatus, alsoUpsert: SearchAttributeUpdatePair[] = []): void {
  const changed = next !== approval.status;
  approval.status = next;
  if (changed || alsoUpsert.length) {
    upsertSearchAttributes([...(changed ? [{ key: CIBA_APPROVAL_STATUS, value: next }] : []), ...alsoUpsert]);
  }
  if (changed) showDetails(approval);
}

function upsertStatus(status: ApprovalStatus): void {
  upsertSearchAttributes([{ key: CIBA_APPROVAL_STATUS, value: status }]);
}

/** The UI's current details (not a history event), told from the status query's answer. */
function showDetails(approval: Approval, nextPollAtMs?: number): void {
  const state = statusAnswer(approval.request.bindingMessage, approval.run, approval.status, approval.failure);
  setCurrentDetails(
    currentDetails(state, {
      nextPollAtMs,
      pollingMode: approval.run.pollingMode,
      intervalSeconds: approval.run.polling?.intervalSeconds,
      maxAsks: approval.request.askAgain.maxAsks,
    }),
  );
}

/** Sends the backchannel request, again only when the provider cannot have seen the previous sending. */
async function sendBackchannelRequest(
  request: ApprovalRequest,
  askNumber: number,
  reason: AskReason,
): Promise<BackchannelAcknowledgment> {
  for (let sends = 1; ; sends++) {
    try {
      return await ciba.requestBackchannelAuthentication.executeWithOptions(
        {
          ...INITIATION_OPTIONS,
          summary: `backchannel request ${askNumber}${sends > 1 ? `, sent again (${sends})` : ''}`,
        },
        [request, { reason }],
      );
    } catch (error) {
      const next = afterSendFailure(error, sends);
      if (next.kind === 'fail') throw next.error;
      await sleep(next.afterSeconds * 1000);
    }
  }
}

/**
 * One poll, with Temporal retrying transient faults: never sooner than the polling interval, backing off to a
 * minute, and giving up once the ask has expired (the workflow then treats it as expired).
 */
async function pollTokenEndpoint(polling: PollingState, askNumber: number): Promise<PollOutcome> {
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
    summary: `poll ${polling.polls + 1} of ask ${askNumber}`,
    ...pollCancellation(),
  };
  try {
    return await ciba.pollToken.executeWithOptions(options, [
      { authReqId: polling.authReqId, intervalSeconds: polling.intervalSeconds },
    ]);
  } catch (error) {
    if (isTimeout(error)) {
      // Retries ran out of time: the provider was unreachable until the ask expired.
      return {
        kind: 'expired_token',
        description: `the provider could not be polled before the request expired (${error.cause.message})`,
      };
    }
    throw error;
  }
}
