/**
 * For agent workflows: ask a person for approval and wait for the tokens.
 *
 *   const tokens = await requestApproval({ loginHint, bindingMessage, authorizationDetails });
 *
 * The approval runs as a child workflow (its own history, its own status query, visible in the UI):
 * - parentClosePolicy REQUEST_CANCEL: if the agent workflow ends (completes, fails, is terminated or times out)
 *   while the approval waits, the approval is cancelled and stops polling, instead of being killed mid-poll
 *   (TERMINATE, the default) or left polling for nobody (ABANDON).
 * - cancellationType WAIT_CANCELLATION_COMPLETED: cancelling the agent's scope cancels the approval and waits until
 *   it has stopped, so no poll is in flight when the agent moves on.
 * - the approval's input is sealed for its workflow ID (common/start-seal.ts); call `checkStartSeal(input.seal)` first
 *   in the agent workflow, and its approvals' request ids derive from the agent's own seal.
 * Failures reach the agent as a ChildWorkflowFailure whose `cause` is an ApplicationFailure typed
 * ApprovalDenied, ApprovalExpired, ... (see ApprovalFailureType); `approvalFailureType(error)` extracts it.
 */
import {
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  executeChild,
  ParentClosePolicy,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { approvalDetails, approvalSummary, listSummary } from '../common/approval-summary';
import { CIBA_SUMMARY } from '../common/search-attributes';
import type { ApprovalRequestInput, ApprovalResult } from '../common/approval';
import { ApprovalFailureType } from '../common/outcomes';
import { cibaApproval } from './approval';
import { derivedRequestId, sealFor } from '../common/start-seal';
import { checkedStartSeal } from './sealed-start';

/** requestApproval calls so far in this run: keyless approvals are numbered, so a copy of the run numbers them alike. */
let approvalsRequested = 0;

export interface RequestApprovalOptions {
  /** Distinguishes this approval among the agent's; part of the child workflow ID. Default: a deterministic UUID. */
  key?: string;
  /** Task queue of the approval worker; default: the agent's own. */
  taskQueue?: string;
  /**
   * Also give the approval the CibaSummary search attribute ("Pay 50.00 USD to ExampleCorp", without the user), a
   * column the Temporal UI's list can show. Plaintext on the Temporal server: off by default.
   */
  summarySearchAttribute?: boolean;
}

export async function requestApproval(
  request: ApprovalRequestInput,
  options: RequestApprovalOptions = {},
): Promise<ApprovalResult> {
  const number = ++approvalsRequested;
  const workflowId = `${workflowInfo().workflowId}/approval/${options.key ?? uuid4()}`;
  // The approval's request id: derived from this workflow's own seal when it checked one (checkStartSeal), so that a
  // copy of this workflow's input, started again, derives the same id and the user's ask gate refuses its ask.
  const parentSeal = checkedStartSeal();
  // Without a parent seal, from this run's id: no second uuid4(), which would shift the workflow's random sequence (and
  // with it the keyless child IDs of runs recorded before seals).
  const requestId = derivedRequestId(parentSeal?.requestId ?? workflowInfo().runId, options.key ?? `#${number}`);
  return executeChild(cibaApproval, {
    args: [{ ...request, seal: sealFor(workflowId, requestId, Date.now()) }],
    workflowId,
    taskQueue: options.taskQueue,
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    staticSummary: approvalSummary(request),
    staticDetails: approvalDetails(request),
    ...(options.summarySearchAttribute && {
      typedSearchAttributes: [{ key: CIBA_SUMMARY, value: listSummary(request) }],
    }),
  });
}

/** The approval's failure type (ApprovalDenied, ApprovalExpired, ApprovalCancelled, ...) if `error` is a failed approval. */
export function approvalFailureType(error: unknown): string | undefined {
  if (!(error instanceof ChildWorkflowFailure)) return undefined;
  if (error.cause instanceof ApplicationFailure) return error.cause.type ?? undefined;
  if (error.cause instanceof CancelledFailure) return ApprovalFailureType.Cancelled;
  return undefined;
}
