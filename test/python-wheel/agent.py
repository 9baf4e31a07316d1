"""A team's Python agent, run from outside the repository with ciba-temporal installed from its wheel (no path to
python/): a workflow asks for an approval with request_approval (the TypeScript worker on CIBA_TASK_QUEUE runs the
cibaApproval child), its Python worker runs it, and the result is printed as one JSON line. The user approves on the
local provider's device API (test/python-wheel.test.ts does, as the user)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.worker import Worker

# The sandbox re-imports this module for each workflow: the package (and cryptography under its codec) passes
# through, as the package's README says.
with workflow.unsafe.imports_passed_through():
    import ciba_temporal
    from ciba_temporal.client import connect_temporal_client
    from ciba_temporal.errors import ApprovalFailed
    from ciba_temporal.types import payment_initiation
    from ciba_temporal.workflow import request_approval


@workflow.defn
class PayWithApproval:
    @workflow.run
    async def run(self, args: dict) -> dict:
        try:
            tokens = await request_approval(
                {
                    "loginHint": "alice@example.com",
                    "bindingMessage": args["bindingMessage"],
                    "authorizationDetails": [payment_initiation("9.00", "USD", "Wheel Corp")],
                },
                key="payment",
                task_queue=args["approvalTaskQueue"],
            )
        except ApprovalFailed as failure:
            return {"outcome": failure.type}
        return {"outcome": "approved", "hasAccessToken": bool(tokens["accessToken"])}


async def main() -> None:
    client = await connect_temporal_client()
    task_queue = f"py-wheel-agent-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[PayWithApproval]):
        result = await client.execute_workflow(
            PayWithApproval.run,
            {"bindingMessage": os.environ["CONSUMER_BINDING_MESSAGE"], "approvalTaskQueue": os.environ["CIBA_TASK_QUEUE"]},
            id=f"py-wheel-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=10),
        )
    print(json.dumps({"package": ciba_temporal.__file__, "python": sys.version.split()[0], **result}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
