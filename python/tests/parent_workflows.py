"""Python agent workflows for the tests: they ask for approval through request_approval (the TypeScript worker
runs the cibaApproval child)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ciba_temporal.errors import ApprovalFailed
    from ciba_temporal.types import ApprovalRequest
    from ciba_temporal.workflow import check_start_seal, request_approval


@dataclass
class AskInput:
    request: dict[str, Any]
    approval_task_queue: str
    key: str | None = None
    catch: bool = True


@workflow.defn
class AskForApproval:
    """Returns the approval's tokens, or (``catch``) the typed failure's class, type and message."""

    @workflow.run
    async def run(self, input: AskInput) -> dict[str, Any]:
        request: ApprovalRequest = input.request  # type: ignore[assignment]
        try:
            tokens = await request_approval(request, key=input.key, task_queue=input.approval_task_queue)
        except ApprovalFailed as failure:
            if not input.catch:
                raise
            return {"failed": type(failure).__name__, "type": failure.type, "message": failure.message}
        return {"tokens": tokens}


@dataclass
class SealedAskInput:
    request: dict[str, Any]
    approval_task_queue: str
    key: str | None = None
    seal: Any = None
    """A StartSeal (new_start_seal(workflow_id)), checked first."""


@workflow.defn
class SealedAskForApproval:
    """An agent that checks its own seal first and derives its approval's request id from it; failures uncaught."""

    @workflow.run
    async def run(self, input: SealedAskInput) -> dict[str, Any]:
        seal = check_start_seal(input.seal)
        request: ApprovalRequest = input.request  # type: ignore[assignment]
        tokens = await request_approval(
            request, key=input.key, task_queue=input.approval_task_queue, parent_seal=seal
        )
        return {"approvedAt": tokens["approvedAt"], "approvalsRequested": seal.approvals_requested}
