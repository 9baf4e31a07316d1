/**
 * The approval's side of the per-user ask gate (workflows/user-asks.ts): before each ask, the gate must grant it; when
 * the ask ends, its lease is released. A refused ask ends the approval before anything reaches the provider:
 * AskRateLimited (with the time to retry), or InputReplayed (this request already asked from another run chain).
 */
import {
  CancellationScope,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { UserAskActivities, UserHint } from '../activities/user-asks';
import type { ApprovalRequest } from '../common/approval';
import { releaseAskSignal } from '../common/ask-gate';
import { ApprovalFailureType } from '../common/outcomes';
import { approvalFailure } from './failures';
import { since, type ApprovalPatch } from './patches';

/** A lease lasts the ask's requested expiry, or this when the request names none (Auth0's default is 300 s). */
const DEFAULT_LEASE_SECONDS = 600;
/** The provider may keep an ask a little past its expiry (oidc-provider: about 15 s). */
const LEASE_MARGIN_SECONDS = 60;

/**
 * Patch: the gate is asked by a normal activity, not a local one. A local activity keeps the approval's workflow task
 * (and its slot) open while it waits for the gate's workflow, whose own workflow task needs a slot on the same worker:
 * a burst of new approvals for many users held every slot and starved the gates. A normal activity holds no workflow
 * task slot while it waits, and its retries are the server's timers (a busy gate is retried with backoff, not in a
 * storm). Runs from before keep their local activity.
 *
 * The patch is asked once, at the run's first activation (askGateVersion), never at the ask itself: the ask follows
 * the wait-settings local activity, and a local activity that resolves as its workflow task is completed (a slow
 * worker heartbeats the task) puts the code after it into the next workflow task, while a replay runs it in the same
 * one. A patch asked there is then seen on replay in another task than it was recorded in: nondeterminism (the recorded
 * histories caught it, test/replay).
 */
const ASK_GATE_ACTIVITY: ApprovalPatch = 'ask-gate-activity';

/** How a run asks its user's gate: fixed at its first activation (see ASK_GATE_ACTIVITY). */
export type AskGateVersion = 'local-activity' | 'activity';

/** The run's AskGateVersion. Call at the run's first activation only (before any activity or timer). */
export function askGateVersion(): AskGateVersion {
  return since(ASK_GATE_ACTIVITY) ? 'activity' : 'local-activity';
}

const localGate = proxyLocalActivities<UserAskActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 10 },
});

/**
 * A busy gate (more than Temporal's 10 updates in flight on it: AskGateBusy) or one the server cannot reach is retried,
 * 1 s, 2 s, 4 s … 30 s apart, for up to 10 minutes; then the approval fails (the user was not asked).
 */
const gate = proxyActivities<UserAskActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
  summary: "ask the user's ask gate",
});

/**
 * Asks the user's gate for ask number `askNumber`.
 *
 * @returns the gate's workflow ID (to release the lease when the ask ends).
 * @throws ApplicationFailure AskRateLimited (details[0]: { limit, max, retryAt }) or InputReplayed.
 */
export async function acquireAsk(
  request: ApprovalRequest,
  requestId: string,
  askNumber: number,
  version: AskGateVersion,
): Promise<string> {
  const info = workflowInfo();
  const grantAsk = version === 'activity' ? gate.grantAsk : localGate.grantAsk;
  const { answer, gateId } = await grantAsk({
    hint: userHint(request),
    approvalId: info.workflowId,
    chainId: info.firstExecutionRunId,
    requestId,
    askKey: `${info.firstExecutionRunId}#${askNumber}`,
    leaseMs: ((request.requestedExpiry ?? DEFAULT_LEASE_SECONDS) + LEASE_MARGIN_SECONDS) * 1000,
  });
  if (answer.kind === 'replayed') throw approvalFailure(ApprovalFailureType.InputReplayed, answer.message);
  if (answer.kind === 'limited') {
    const what =
      answer.limit === 'pending'
        ? `the user already has ${answer.max} pending asks`
        : `the user was asked ${answer.max} times in the last hour`;
    throw approvalFailure(ApprovalFailureType.AskRateLimited, `${what}; retry after ${answer.retryAt}`, {
      limit: answer.limit,
      max: answer.max,
      retryAt: answer.retryAt,
    });
  }
  return gateId;
}

/** The ask ended (or the approval did): free its lease at the gate. Never fails the approval, even when cancelled. */
export async function releaseAsk(gateId: string): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await getExternalWorkflowHandle(gateId).signal(releaseAskSignal, { approvalId: workflowInfo().workflowId });
    } catch (error) {
      // The gate ended meanwhile (it holds nothing then): the lease is gone with it.
      log.info(`ask gate not told of the ask's end: ${(error as Error).message}`);
    }
  });
}

function userHint(request: ApprovalRequest): UserHint {
  if (request.loginHint !== undefined) return { kind: 'loginHint', value: request.loginHint };
  if (request.loginHintToken !== undefined) return { kind: 'loginHintToken', value: request.loginHintToken };
  return { kind: 'idTokenHint', value: request.idTokenHint! };
}
