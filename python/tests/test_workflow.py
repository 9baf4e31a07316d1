"""request_approval from a Python workflow: a Python worker runs the parent, the TypeScript worker cibaApproval."""

from __future__ import annotations

import uuid

import pytest
from device import Device, unique_binding_message
from parent_workflows import AskForApproval, AskInput
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from ciba_temporal.client import connect_temporal_client
from ciba_temporal.types import payment_initiation

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
async def client(stack_env: dict[str, str]) -> Client:
    return await connect_temporal_client(env=stack_env)


@pytest.fixture(scope="module")
async def agent_queue(client: Client):
    task_queue = f"py-agent-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[AskForApproval]):
        yield task_queue


def request(message: str) -> dict:
    return {
        "loginHint": "alice@example.com",
        "bindingMessage": message,
        "authorizationDetails": [payment_initiation("7.00", "USD", "Child Corp")],
    }


async def test_approved_returns_the_tokens(
    client: Client, agent_queue: str, approval_task_queue: str, device: Device
) -> None:
    message = unique_binding_message("Py workflow approve")
    parent_id = f"py-parent-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        AskForApproval.run,
        AskInput(request(message), approval_task_queue, key="payment"),
        id=parent_id,
        task_queue=agent_queue,
    )
    await device.approve_when_asked(message)
    result = await handle.result()
    tokens = result["tokens"]
    assert tokens["tokenType"] == "bearer" and tokens["accessToken"]
    assert tokens["authorizationDetails"] == [payment_initiation("7.00", "USD", "Child Corp")]

    # The child, as workflows/request-approval.ts makes it.
    child = await client.get_workflow_handle(f"{parent_id}/approval/payment").describe()
    assert child.workflow_type == "cibaApproval"
    assert child.parent_id == parent_id
    assert child.task_queue == approval_task_queue
    assert await child.static_summary() == "Pay 7.00 USD to Child Corp · alice@…"


async def test_denied_raises_approval_denied_in_the_workflow(
    client: Client, agent_queue: str, approval_task_queue: str, device: Device
) -> None:
    message = unique_binding_message("Py workflow deny")
    handle = await client.start_workflow(
        AskForApproval.run,
        AskInput(request(message), approval_task_queue),
        id=f"py-parent-{uuid.uuid4().hex[:8]}",
        task_queue=agent_queue,
    )
    await device.deny_when_asked(message)
    result = await handle.result()
    assert result["failed"] == "ApprovalDenied" and result["type"] == "ApprovalDenied"


async def test_uncaught_failure_fails_the_workflow_with_its_type(
    client: Client, agent_queue: str, approval_task_queue: str
) -> None:
    # Refused by the worker's validation before anything is sent: InvalidApprovalRequest.
    bad = {"loginHint": "alice@example.com", "bindingMessage": "x", "approvalTimeout": "forever"}
    handle = await client.start_workflow(
        AskForApproval.run,
        AskInput(bad, approval_task_queue, catch=False),
        id=f"py-parent-{uuid.uuid4().hex[:8]}",
        task_queue=agent_queue,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "InvalidApprovalRequest"
    assert failed.value.cause.non_retryable
