"""Python agent workflows for the tests: they ask for approval through request_approval (the TypeScript worker
runs the cibaApproval child)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ciba_temporal.errors import ApprovalFailed
    from ciba_temporal.types import ApprovalRequest
    from ciba_temporal.workflow import request_approval


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
