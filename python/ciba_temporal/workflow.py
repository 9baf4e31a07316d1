"""For Python agent workflows: ask a person for approval and wait for the tokens.

    tokens = await request_approval({"loginHint": ..., "bindingMessage": ..., "authorizationDetails": [...]},
                                    task_queue="ciba-approvals")

The approval runs as a child workflow of type ``cibaApproval`` on the approval worker (TypeScript), exactly as
workflows/request-approval.ts starts it: workflow id ``<this workflow's id>/approval/<key or a deterministic uuid>``,
parent close policy REQUEST_CANCEL (if this workflow ends while the approval waits, the approval is cancelled and
stops polling), cancellation type WAIT_CANCELLATION_COMPLETED (cancelling the awaiting task cancels the approval and
waits until it has stopped), static summary and details as ``common/approval-summary.ts`` writes them.

A failed approval raises a typed ``ApprovalFailed`` (ApprovalDenied, ApprovalExpired, ApprovalCancelled, ...). They
are non-retryable ApplicationErrors: uncaught, they fail this workflow with the same type.

The worker that runs this workflow needs the payload codec (``ciba_temporal.client.data_converter()``): the
approval worker refuses unencrypted input.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
)
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from .errors import ApprovalCancelled, ApprovalFailed, approval_failure
    from .types import ApprovalRequest, ApprovalResult

from .summary import approval_details, approval_summary

APPROVAL_WORKFLOW_TYPE = "cibaApproval"


def approval_workflow_id(parent_workflow_id: str, key: str) -> str:
    """The child approval's workflow id, as workflows/request-approval.ts makes it."""
    return f"{parent_workflow_id}/approval/{key}"


async def request_approval(
    request: ApprovalRequest,
    *,
    key: str | None = None,
    task_queue: str | None = None,
    execution_timeout: timedelta | None = None,
) -> ApprovalResult:
    """Runs the approval as a child workflow and returns its tokens.

    Args:
        request: what to ask (camelCase fields, as ``ApprovalRequestSchema``).
        key: distinguishes this approval among the workflow's own; part of the child workflow id. Default: a
            deterministic UUID (``workflow.uuid4()``), so each call is a new approval.
        task_queue: the approval worker's task queue; default this workflow's own (as in TypeScript). A Python
            agent's worker does not run ``cibaApproval``: pass the approval worker's queue (``CIBA_TASK_QUEUE``).
        execution_timeout: optional Temporal timeout for the child (``ApprovalTimedOut`` when it runs out).

    Raises:
        ApprovalFailed: a subclass per failure type, e.g. ApprovalDenied, ApprovalExpired, ApprovalCancelled.
    """
    info = workflow.info()
    child_id = approval_workflow_id(info.workflow_id, key if key is not None else str(workflow.uuid4()))
    try:
        return await workflow.execute_child_workflow(
            APPROVAL_WORKFLOW_TYPE,
            request,
            id=child_id,
            task_queue=task_queue,
            result_type=dict,
            parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
            cancellation_type=workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            execution_timeout=execution_timeout,
            static_summary=approval_summary(request),
            static_details=approval_details(request),
        )
    except ChildWorkflowError as error:
        raise failure_of_child(error, child_id) from error


def failure_of_child(error: ChildWorkflowError, workflow_id: str) -> ApprovalFailed:
    """The typed failure for a failed approval child (its cause's type; cancelled, terminated, timed out)."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return approval_failure(cause.type, cause.message, tuple(cause.details), workflow_id)
    if isinstance(cause, CancelledError):
        return ApprovalCancelled("the approval was cancelled", workflow_id=workflow_id)
    if isinstance(cause, TerminatedError):
        return approval_failure("ApprovalTerminated", "the approval was terminated", (), workflow_id)
    if isinstance(cause, TemporalTimeoutError):
        return approval_failure("ApprovalTimedOut", "the approval workflow timed out", (), workflow_id)
    message = getattr(cause, "message", None) or error.message
    return approval_failure("ApprovalFailed", message, (), workflow_id)
