"""The sample invoice agent (OpenAI Agents SDK through Temporal's plugin) with the scripted model: no network."""

from __future__ import annotations

import json
import uuid

import pytest
from device import Device
from replays import backchannel_requests, failure_of, payments_to, start_copy

from ciba_temporal.client import connect_temporal_client
from ciba_temporal.seal import derived_request_id, new_start_seal
from ciba_temporal.examples.fake_model import TOOL_ANSWER_PREFIX, FakeInvoiceModelProvider
from ciba_temporal.examples.invoice_agent import (
    InvoiceAgentInput,
    InvoiceAgentResult,
    InvoiceAgentWorkflow,
    binding_message,
    openai_agents_plugin,
    payments_api_url,
    worker_for,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
async def agent(stack_env: dict[str, str]):
    client = await connect_temporal_client(env=stack_env, plugins=[openai_agents_plugin(FakeInvoiceModelProvider())])
    task_queue = f"py-invoice-agent-{uuid.uuid4().hex[:8]}"
    async with worker_for(client, task_queue, payments_api_url(stack_env)):
        yield client, task_queue


def invoice_input(creditor: str, approval_task_queue: str, seal: dict | None) -> InvoiceAgentInput:
    invoice = {"creditor_name": creditor, "amount": "99.95", "currency": "EUR", "invoice": "INV-42"}
    return InvoiceAgentInput(
        prompt=f"Please pay this invoice: {json.dumps(invoice)}",
        login_hint="alice@example.com",
        approval_task_queue=approval_task_queue,
        seal=seal,
    )


async def run_agent(
    agent, approval_task_queue: str, device: Device, decision: str, creditor: str | None = None
) -> tuple[InvoiceAgentResult, str, dict]:
    """Runs the agent (sealed, as its starter does) through the user's decision: its result, workflow id and seal."""
    client, task_queue = agent
    creditor = creditor or f"Invoice Corp {uuid.uuid4().hex[:6]}"
    workflow_id = f"py-invoice-{uuid.uuid4().hex[:8]}"
    seal = new_start_seal(workflow_id)
    handle = await client.start_workflow(
        InvoiceAgentWorkflow.run,
        invoice_input(creditor, approval_task_queue, seal),
        id=workflow_id,
        task_queue=task_queue,
    )
    asked = await device.wait_for(binding_message("99.95", "EUR", creditor))
    assert asked["authorization_details"] == [
        {
            "type": "payment_initiation",
            "actions": ["initiate"],
            "instructedAmount": {"currency": "EUR", "amount": "99.95"},
            "creditorName": creditor,
        }
    ]
    await device.decide(asked["auth_req_id"], decision)
    return await handle.result(), workflow_id, seal


async def test_approved_the_tool_pays_with_the_tokens(agent, approval_task_queue: str, device: Device) -> None:
    result, _, _ = await run_agent(agent, approval_task_queue, device, "approve")
    assert result.refusals == [], result
    assert len(result.payments) == 1, result
    # The demo payments API accepted the access token for exactly this payment.
    assert result.payments[0]["status"] == "paid"
    assert result.payments[0]["paymentId"].startswith("pay_")
    assert result.final_output.startswith(TOOL_ANSWER_PREFIX)
    assert result.payments[0]["paymentId"] in result.final_output


async def test_denied_the_model_gets_a_refusal_and_the_workflow_completes(
    agent, approval_task_queue: str, device: Device
) -> None:
    result, _, _ = await run_agent(agent, approval_task_queue, device, "deny")
    assert result.payments == [], result
    assert [r["reason"] for r in result.refusals] == ["ApprovalDenied"], result
    # What the model was told (the scripted model repeats the tool's answer).
    assert result.final_output.startswith(TOOL_ANSWER_PREFIX)
    assert "refused" in result.final_output and "ApprovalDenied" in result.final_output


async def test_a_copy_of_the_agents_input_pays_nothing_twice(
    agent, approval_task_queue: str, device: Device, stack_env: dict[str, str]
) -> None:
    client, task_queue = agent
    issuer = stack_env["CIBA_ISSUER"]
    creditor = f"Replay Corp {uuid.uuid4().hex[:6]}"
    result, workflow_id, seal = await run_agent(agent, approval_task_queue, device, "approve", creditor)
    assert len(result.payments) == 1, result
    # Paid once, under the approval's request id (derived from the agent's seal, as TypeScript derives it).
    [paid] = await payments_to(issuer, creditor)
    assert paid["paymentId"] == result.payments[0]["paymentId"]
    assert paid["idempotencyKey"] == derived_request_id(seal["requestId"], "pay-1")

    # Under another ID: the agent's own seal check refuses it.
    elsewhere = f"py-invoice-copy-{uuid.uuid4().hex[:8]}"
    await start_copy(client, workflow_id, elsewhere, task_queue)
    assert (await failure_of(client, elsewhere)).type == "InputReplayed"

    # Under its own ID, still fresh: the model calls the tool again, the approval is refused (the user's gate knows its
    # request id), and the model hears a refusal.
    await start_copy(client, workflow_id, workflow_id, task_queue)
    again = await client.get_workflow_handle(workflow_id, result_type=InvoiceAgentResult).result()
    assert again.payments == [], again
    assert [r["reason"] for r in again.refusals] == ["InputReplayed"], again
    assert "already asked the user" in again.refusals[0]["message"]

    assert len(await payments_to(issuer, creditor)) == 1
    assert len(await backchannel_requests(issuer, binding_message("99.95", "EUR", creditor))) == 1


async def test_an_unsealed_input_is_refused_before_the_model_runs(agent, approval_task_queue: str) -> None:
    client, task_queue = agent
    workflow_id = f"py-invoice-{uuid.uuid4().hex[:8]}"
    await client.start_workflow(
        InvoiceAgentWorkflow.run,
        invoice_input("Unsealed Corp", approval_task_queue, None),
        id=workflow_id,
        task_queue=task_queue,
    )
    failure = await failure_of(client, workflow_id)
    assert failure.type == "InputNotSealed"
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
