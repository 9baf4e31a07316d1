"""The sample invoice agent (OpenAI Agents SDK through Temporal's plugin) with the scripted model: no network."""

from __future__ import annotations

import json
import uuid

import pytest
from device import Device

from ciba_temporal.client import connect_temporal_client
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


async def run_agent(agent, approval_task_queue: str, device: Device, decision: str) -> InvoiceAgentResult:
    client, task_queue = agent
    creditor = f"Invoice Corp {uuid.uuid4().hex[:6]}"
    invoice = {"creditor_name": creditor, "amount": "99.95", "currency": "EUR", "invoice": "INV-42"}
    handle = await client.start_workflow(
        InvoiceAgentWorkflow.run,
        InvoiceAgentInput(
            prompt=f"Please pay this invoice: {json.dumps(invoice)}",
            login_hint="alice@example.com",
            approval_task_queue=approval_task_queue,
        ),
        id=f"py-invoice-{uuid.uuid4().hex[:8]}",
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
    return await handle.result()


async def test_approved_the_tool_pays_with_the_tokens(agent, approval_task_queue: str, device: Device) -> None:
    result = await run_agent(agent, approval_task_queue, device, "approve")
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
    result = await run_agent(agent, approval_task_queue, device, "deny")
    assert result.payments == [], result
    assert [r["reason"] for r in result.refusals] == ["ApprovalDenied"], result
    # What the model was told (the scripted model repeats the tool's answer).
    assert result.final_output.startswith(TOOL_ANSWER_PREFIX)
    assert "refused" in result.final_output and "ApprovalDenied" in result.final_output
