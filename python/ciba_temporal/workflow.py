"""For Python agent workflows: ask a person for approval and wait for the tokens.

    tokens = await request_approval({"loginHint": ..., "bindingMessage": ..., "authorizationDetails": [...]},
                                    task_queue="ciba-approvals")

The approval runs as a child workflow of type ``cibaApproval`` on the approval worker (TypeScript), exactly as
workflows/request-approval.ts starts it: workflow id ``<this workflow's id>/approval/<key or a deterministic uuid>``,
parent close policy REQUEST_CANCEL (if this workflow ends while the approval waits, the approval is cancelled and
stops polling), cancellation type WAIT_CANCELLATION_COMPLETED (cancelling the awaiting task cancels the approval and
waits until it has stopped), static summary and details as ``common/approval-summary.ts`` writes them.

Every approval input is sealed for the child's workflow ID (common/start-seal.ts, ``ciba_temporal.seal``), issued at
``workflow.now()``. A workflow that acts for a user checks its own input's seal first thing, and hands the checked
seal on, so that its approvals' request ids derive from it (as TypeScript's ``checkStartSeal``/``requestApproval``)::

    seal = check_start_seal(input.seal)           # InputNotSealed / InputReplayed before any effect
    tokens = await request_approval(request, key="payment", parent_seal=seal)
    idempotency_key = seal.approval_request_id("payment")   # the approval's request id: pay once on it

A copy of such a workflow's input, started again, is refused by its own check (another workflow ID, or too old), or,
under its own ID while still fresh, derives the same approval request id, which the user's ask gate refuses.

A failed approval raises a typed ``ApprovalFailed`` (ApprovalDenied, ApprovalExpired, ApprovalCancelled, ...). They
are non-retryable ApplicationErrors: uncaught, they fail this workflow with the same type.

The worker that runs this workflow needs the payload codec (``ciba_temporal.client.data_converter()``): the
approval worker refuses unencrypted input.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

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
    from .seal import CheckedSeal, derived_request_id, seal_for, seal_problem
    from .types import ApprovalRequest, ApprovalResult

from .summary import approval_details, approval_summary

APPROVAL_WORKFLOW_TYPE = "cibaApproval"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def approval_workflow_id(parent_workflow_id: str, key: str) -> str:
    """The child approval's workflow id, as workflows/request-approval.ts makes it."""
    return f"{parent_workflow_id}/approval/{key}"


def _run_start_ms(info: workflow.Info) -> int:
    """When the server started this run: its WorkflowExecutionStarted event (``workflow_start_time``), else the first
    workflow task's time (``start_time``, what TypeScript's ``runStartTime`` is) where a server does not say."""
    started = info.workflow_start_time if info.workflow_start_time > _EPOCH else info.start_time
    return (started - _EPOCH) // timedelta(milliseconds=1)


def check_start_seal(seal: Any) -> CheckedSeal:
    """Admits this run's input, or fails the workflow before any effect (workflows/sealed-start.ts's checkStartSeal).

    Call it first thing in a workflow that acts for a user, with the input's ``seal`` (the starter adds
    ``ciba_temporal.seal.new_start_seal(workflow_id)``), and pass what it returns to ``request_approval``'s
    ``parent_seal``. The rules are common/start-seal.ts's ``sealProblem``: a seal is required and well formed
    (``InputNotSealed``), made for this workflow ID, and issued at most 600 s before (120 s after) this run started
    (``InputReplayed``); a run that continues another (continue-as-new, retry, cron) skips the freshness check.

    Raises:
        InputNotSealed, InputReplayed: non-retryable ``ApplicationError``s of that type; uncaught (as they should be),
            the workflow fails with it.
    """
    info = workflow.info()
    problem = seal_problem(
        seal,
        workflow_id=info.workflow_id,
        run_start_ms=_run_start_ms(info),
        continued=info.continued_run_id is not None,
    )
    if problem is not None:
        raise approval_failure(problem.failure_type, problem.message, (), info.workflow_id)
    return CheckedSeal(seal["workflowId"], seal["issuedAt"], seal["requestId"])


def _unsealed_parent_request_id(info: workflow.Info, child_id: str) -> str:
    """A parent without a checked seal: a request id of the approval's own, as TypeScript's ``uuid4()`` there.

    UUID-shaped, deterministic and unique per run, child and point in the history (so a second approval under the
    same key is a new request), made without drawing from ``workflow.random()``: a history recorded before seals
    replays the same ``workflow.uuid4()`` values (keyless child workflow ids) after this change.
    """
    where = f"{info.run_id}\n{child_id}\n{info.get_current_history_length()}"
    return str(uuid.UUID(bytes=hashlib.sha256(where.encode()).digest()[:16], version=4))


async def request_approval(
    request: ApprovalRequest,
    *,
    key: str | None = None,
    task_queue: str | None = None,
    execution_timeout: timedelta | None = None,
    parent_seal: CheckedSeal | None = None,
) -> ApprovalResult:
    """Runs the approval as a child workflow and returns its tokens.

    Args:
        request: what to ask (camelCase fields, as ``ApprovalRequestSchema``); a ``seal`` in it is replaced.
        key: distinguishes this approval among the workflow's own; part of the child workflow id. Default: a
            deterministic UUID (``workflow.uuid4()``), so each call is a new approval. With ``parent_seal``, keep it
            to letters, digits and ``-_.~`` (the request id derived from it must stay within the seal's characters).
        task_queue: the approval worker's task queue; default this workflow's own (as in TypeScript). A Python
            agent's worker does not run ``cibaApproval``: pass the approval worker's queue (``CIBA_TASK_QUEUE``).
        execution_timeout: optional Temporal timeout for the child (``ApprovalTimedOut`` when it runs out).
        parent_seal: this workflow's own seal, as ``check_start_seal`` returned it. The approval's request id is then
            derived from it (``<parent request id>/approval/<key, or #n for the n-th call>``), so a copy of this
            workflow's input started again asks nobody. Without it, the request id is this run's own.

    Raises:
        ApprovalFailed: a subclass per failure type, e.g. ApprovalDenied, ApprovalExpired, ApprovalCancelled,
            InputReplayed (a copy of this workflow's input asked for this approval already), AskRateLimited.
    """
    info = workflow.info()
    child_id = approval_workflow_id(info.workflow_id, key if key is not None else str(workflow.uuid4()))
    if parent_seal is not None:
        parent_seal.approvals_requested += 1
        request_id = derived_request_id(
            parent_seal.request_id, key if key is not None else f"#{parent_seal.approvals_requested}"
        )
    else:
        request_id = _unsealed_parent_request_id(info, child_id)
    sealed = {**request, "seal": seal_for(child_id, request_id, workflow.now())}
    try:
        return await workflow.execute_child_workflow(
            APPROVAL_WORKFLOW_TYPE,
            sealed,
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
