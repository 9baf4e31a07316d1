"""ApprovalClient against the real stack: the TypeScript approval worker and the local provider."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from device import Device, jwt_payload, unique_binding_message, wait_until
from replays import backchannel_requests, failure_of, start_copy, started_input

from ciba_temporal.client import ApprovalClient, approval_workflow_id
from ciba_temporal.errors import ApprovalCancelled, ApprovalDenied, InputReplayed, InvalidApprovalRequestError
from ciba_temporal.seal import SEAL_FRESHNESS_SECONDS, iso_to_epoch_ms
from ciba_temporal.types import ApprovalRequest, payment_initiation

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
async def approvals(stack_env: dict[str, str]) -> ApprovalClient:
    return await ApprovalClient.connect(env=stack_env)


def payment_request(binding_message: str) -> ApprovalRequest:
    return {
        "loginHint": "alice@example.com",
        "bindingMessage": binding_message,
        "authorizationDetails": [payment_initiation("12.34", "EUR", "Python Corp")],
    }


def unique_key(name: str) -> str:
    return unique_binding_message(name).replace(" ", "-")


async def test_start_approve_result_with_tokens(approvals: ApprovalClient, device: Device) -> None:
    message = unique_binding_message("Py client approve")
    started = await approvals.start(payment_request(message), key=unique_key("py-approve"))
    assert started.started and started.workflow_id.startswith("ciba-approval-py-approve-")

    asked = await device.approve_when_asked(message)
    assert asked["authorization_details"] == [payment_initiation("12.34", "EUR", "Python Corp")]
    tokens = await approvals.result(started.workflow_id)
    assert tokens["tokenType"] == "bearer"
    assert tokens["idToken"]
    assert tokens["authorizationDetails"] == [payment_initiation("12.34", "EUR", "Python Corp")]
    assert jwt_payload(tokens["accessToken"])["authorization_details"] == tokens["authorizationDetails"]
    assert tokens["approvedAt"]

    report = await approvals.status(started.workflow_id)
    assert report.execution == "COMPLETED"
    assert report.approval is not None and report.approval["status"] == "approved"
    assert report.approval["bindingMessage"] == message

    # The input the client started carries a seal for this workflow ID, issued now, with a random request id.
    [given] = await started_input(approvals.client, started.workflow_id)
    seal = given["seal"]
    assert seal["workflowId"] == started.workflow_id
    assert uuid.UUID(seal["requestId"]).version == 4
    age_ms = datetime.now(timezone.utc).timestamp() * 1000 - iso_to_epoch_ms(seal["issuedAt"])
    assert 0 <= age_ms < SEAL_FRESHNESS_SECONDS * 1000


async def test_deny_raises_approval_denied(approvals: ApprovalClient, device: Device) -> None:
    message = unique_binding_message("Py client deny")
    started = await approvals.start(payment_request(message), key=unique_key("py-deny"))
    await device.deny_when_asked(message)
    with pytest.raises(ApprovalDenied) as denied:
        await approvals.result(started.workflow_id)
    assert denied.value.type == "ApprovalDenied"
    assert denied.value.workflow_id == started.workflow_id
    report = await approvals.status(started.workflow_id)
    assert (report.execution, report.approval and report.approval["status"]) == ("FAILED", "denied")


async def test_the_same_key_is_the_same_approval(approvals: ApprovalClient, device: Device) -> None:
    message = unique_binding_message("Py client idempotent")
    key = unique_key("py-same")
    racing = await asyncio.gather(*(approvals.start(payment_request(message), key=key) for _ in range(3)))
    assert {r.workflow_id for r in racing} == {approval_workflow_id(key)}
    assert sorted(r.started for r in racing) == [False, False, True]

    await device.approve_when_asked(message)
    await approvals.result(approval_workflow_id(key))
    again = await approvals.start(payment_request(message), key=key)
    assert (again.workflow_id, again.started) == (approval_workflow_id(key), False)
    # One workflow, one notification: nothing new is pending on the device.
    assert [r for r in await device.pending() if r["binding_message"] == message] == []


async def test_cancel_ends_the_approval_cancelled(approvals: ApprovalClient, device: Device) -> None:
    message = unique_binding_message("Py client cancel")
    started = await approvals.start(payment_request(message), key=unique_key("py-cancel"))
    await device.wait_for(message)
    # The device may show the ask a moment before the workflow has recorded it: wait for the status to say so.
    report = await wait_until(
        lambda: approvals.status(started.workflow_id),
        lambda r: r.approval is not None and r.approval["status"] == "pending",
    )
    assert report.execution == "RUNNING"
    assert report.approval is not None and report.approval["authReqId"]
    await approvals.cancel(started.workflow_id)
    with pytest.raises(ApprovalCancelled):
        await approvals.result(started.workflow_id)
    report = await approvals.status(started.workflow_id)
    assert report.execution == "CANCELLED"


async def test_bad_input_starts_nothing(approvals: ApprovalClient) -> None:
    with pytest.raises(InvalidApprovalRequestError, match="loginHint"):
        await approvals.start({"bindingMessage": "No user"})
    with pytest.raises(InvalidApprovalRequestError, match="key"):
        await approvals.start(payment_request("Fine message"), key="no spaces allowed")


async def test_a_copy_of_an_approved_input_asks_nobody(
    approvals: ApprovalClient, device: Device, stack_env: dict[str, str]
) -> None:
    issuer, task_queue = stack_env["CIBA_ISSUER"], approvals.task_queue
    message = unique_binding_message("Py replay me")
    original = (await approvals.start(payment_request(message), key=unique_key("py-replay"))).workflow_id
    await device.approve_when_asked(message)
    await approvals.result(original)
    assert len(await backchannel_requests(issuer, message)) == 1

    # Under a new workflow ID: refused by the seal, before anything is sent.
    copy = f"ciba-approval-py-replayed-{uuid.uuid4().hex[:8]}"
    await start_copy(approvals.client, original, copy, task_queue)
    with pytest.raises(InputReplayed) as replayed:
        await approvals.result(copy)
    assert f'made for workflow "{original}"' in replayed.value.message
    assert replayed.value.non_retryable

    # Under its own ID, while the seal is still fresh: the user's ask gate knows the request id; nobody is asked.
    await start_copy(approvals.client, original, original, task_queue)
    failure = await failure_of(approvals.client, original)
    assert failure.type == "InputReplayed" and "already asked the user" in failure.message

    # The provider's own log: the one request of the original, nothing from either copy.
    assert len(await backchannel_requests(issuer, message)) == 1
