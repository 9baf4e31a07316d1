"""request_approval from a Python workflow: a Python worker runs the parent, the TypeScript worker cibaApproval."""

from __future__ import annotations

import uuid

import pytest
from device import Device, unique_binding_message
from parent_workflows import AskForApproval, AskInput, SealedAskForApproval, SealedAskInput
from replays import backchannel_requests, child_inputs, failure_of, start_copy
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from ciba_temporal.client import connect_temporal_client
from ciba_temporal.seal import derived_request_id, iso_to_epoch_ms, new_start_seal
from ciba_temporal.types import payment_initiation

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
async def client(stack_env: dict[str, str]) -> Client:
    return await connect_temporal_client(env=stack_env)


@pytest.fixture(scope="module")
async def agent_queue(client: Client):
    task_queue = f"py-agent-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[AskForApproval, SealedAskForApproval]):
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

    # Sealed for the child's ID; the parent checked no seal of its own, so the request id is the run's own.
    [(child_id, [child_input])] = await child_inputs(client, parent_id)
    assert child_id == f"{parent_id}/approval/payment"
    assert child_input["seal"]["workflowId"] == child_id
    assert uuid.UUID(child_input["seal"]["requestId"]).version == 4
    iso_to_epoch_ms(child_input["seal"]["issuedAt"])


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


async def test_a_sealed_agent_derives_its_approvals_request_id_and_a_copy_asks_nobody(
    client: Client, agent_queue: str, approval_task_queue: str, device: Device, stack_env: dict[str, str]
) -> None:
    issuer = stack_env["CIBA_ISSUER"]
    message = unique_binding_message("Py sealed agent")
    parent_id = f"py-sealed-{uuid.uuid4().hex[:8]}"
    seal = new_start_seal(parent_id)
    handle = await client.start_workflow(
        SealedAskForApproval.run,
        SealedAskInput(request(message), approval_task_queue, key="payment", seal=seal),
        id=parent_id,
        task_queue=agent_queue,
    )
    await device.approve_when_asked(message)
    assert (await handle.result())["approvalsRequested"] == 1

    # The child's seal: its own ID, and a request id derived from the parent's exactly as TypeScript derives it.
    [(child_id, [child_input])] = await child_inputs(client, parent_id)
    assert child_input["seal"]["workflowId"] == child_id == f"{parent_id}/approval/payment"
    assert child_input["seal"]["requestId"] == derived_request_id(seal["requestId"], "payment")
    assert child_input["seal"]["requestId"] == f"{seal['requestId']}/approval/payment"

    # A copy of the agent's input under another ID: refused by its own check, before any approval.
    elsewhere = f"py-sealed-copy-{uuid.uuid4().hex[:8]}"
    await start_copy(client, parent_id, elsewhere, agent_queue)
    failure = await failure_of(client, elsewhere)
    assert failure.type == "InputReplayed" and f'made for workflow "{parent_id}"' in failure.message
    assert await child_inputs(client, elsewhere) == []

    # Under its own ID, still fresh: it asks for the same approval, whose derived request id the user's gate refuses.
    await start_copy(client, parent_id, parent_id, agent_queue)
    failure = await failure_of(client, parent_id)
    assert failure.type == "InputReplayed" and "already asked the user" in failure.message
    assert [c[1][0]["seal"]["requestId"] for c in await child_inputs(client, parent_id)] == [
        derived_request_id(seal["requestId"], "payment")
    ]

    assert len(await backchannel_requests(issuer, message)) == 1


async def test_a_sealed_agents_keyless_approvals_are_numbered_as_in_typescript(
    client: Client, agent_queue: str, approval_task_queue: str
) -> None:
    # Refused by the approval's validation (nothing is sent), after its seal was checked: the child's input is what
    # this test reads.
    bad = {"loginHint": "alice@example.com", "bindingMessage": "x", "approvalTimeout": "forever"}
    parent_id = f"py-sealed-{uuid.uuid4().hex[:8]}"
    seal = new_start_seal(parent_id)
    await client.start_workflow(
        SealedAskForApproval.run,
        SealedAskInput(bad, approval_task_queue, seal=seal),
        id=parent_id,
        task_queue=agent_queue,
    )
    assert (await failure_of(client, parent_id)).type == "InvalidApprovalRequest"
    [(child_id, [child_input])] = await child_inputs(client, parent_id)
    assert child_input["seal"] == {
        "workflowId": child_id,
        "issuedAt": child_input["seal"]["issuedAt"],
        "requestId": f"{seal['requestId']}/approval/%231",
    }


@pytest.mark.parametrize("seal", [None, {"workflowId": "x"}], ids=["none", "malformed"])
async def test_a_sealed_agent_refuses_an_unsealed_input(
    client: Client, agent_queue: str, approval_task_queue: str, seal: dict | None
) -> None:
    parent_id = f"py-unsealed-{uuid.uuid4().hex[:8]}"
    await client.start_workflow(
        SealedAskForApproval.run,
        SealedAskInput(request("Never asked"), approval_task_queue, key="payment", seal=seal),
        id=parent_id,
        task_queue=agent_queue,
    )
    failure = await failure_of(client, parent_id)
    assert failure.type == "InputNotSealed" and failure.non_retryable
    assert await child_inputs(client, parent_id) == []
