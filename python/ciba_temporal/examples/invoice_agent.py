"""Sample agent: "pay this invoice", with the OpenAI Agents SDK on Temporal (``temporalio.contrib.openai_agents``).

The agent has one tool, ``pay_invoice``. The tool asks the user to approve exactly this payment (a binding message
and an RFC 9396 ``payment_initiation`` entry built from the tool's arguments) with ``request_approval``, a durable
child workflow on the approval worker; approved, it pays with the access token through an activity (the local
provider's demo payments API checks the token's ``authorization_details``); refused (denied, expired, ...), it hands
the model a structured refusal instead of failing the workflow, and the model tells the user.

Its input is sealed (``seal``: ``ciba_temporal.seal.new_start_seal(workflow_id)``, as the starter below adds it), and
the workflow checks the seal before anything else (``check_start_seal``: InputNotSealed, InputReplayed), then derives
each approval's request id from it and pays with that id as the Idempotency-Key: a copy of this input started again
under another ID does nothing, and under its own ID asks nobody and pays nothing twice.

Run it against a running stack (``npm start`` in the repository), offline with the scripted model:

    python -m ciba_temporal.examples.invoice_agent '{"creditor_name": "ACME", "amount": "50.00", "currency": "USD"}'

then approve on the device page. With OPENAI_API_KEY set and ``--openai``, a real model drives the agent.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from agents import Agent, RunContextWrapper, Runner, function_tool

    from ciba_temporal.errors import ApprovalFailed
    from ciba_temporal.seal import CheckedSeal, new_start_seal
    from ciba_temporal.types import ApprovalRequest, payment_initiation
    from ciba_temporal.workflow import check_start_seal, request_approval

SEALED_START = "sealed-start"
"""The patch that marks runs started since start seals (the TypeScript sample agents use the same name)."""

INSTRUCTIONS = (
    "You pay invoices for the user. Call pay_invoice with the invoice's creditor_name, amount (a decimal string "
    "such as 50.00) and currency (ISO 4217). Each payment needs the user's approval on their device: if the tool "
    "answers status refused, do not retry; tell the user the payment was not made, and why."
)


@dataclass
class InvoiceAgentInput:
    """One conversation turn: the user's message, who approves, and where the approval worker listens."""

    prompt: str
    login_hint: str
    approval_task_queue: str | None = None
    """The approval worker's task queue (CIBA_TASK_QUEUE); default this workflow's own."""
    seal: Any = None
    """A ``StartSeal``: binds this input to its workflow ID, once (``new_start_seal(workflow_id)``); the workflow
    refuses the input without it. Typed Any so that a malformed one reaches ``check_start_seal`` (InputNotSealed)
    rather than failing the input's decoding."""


@dataclass
class InvoiceAgentResult:
    final_output: str
    payments: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ExecutePaymentInput:
    access_token: str
    amount: str
    currency: str
    creditor_name: str
    idempotency_key: str | None = None
    """The approval's request id: the payments API pays once per key, however often (or from whichever copy of the
    agent's input) it is asked. None (runs from before seals): the activity's own workflow id and activity id."""


@dataclass
class PaymentContext:
    """What the tool needs and what it did, kept in workflow memory for the run."""

    login_hint: str
    approval_task_queue: str | None
    seal: CheckedSeal | None = None
    """This run's checked start seal: the approvals' request ids derive from it."""
    payments: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    asked: int = 0


def binding_message(amount: str, currency: str, creditor_name: str) -> str:
    """``Pay 50.00 USD to ExampleCorp``, within Auth0's rule (common/payment.ts's paymentBindingMessage)."""
    text = " ".join(["Pay", amount, currency, "to", creditor_name])[:64]
    return re.sub(r"[^\w +\-.,:#]", " ", text)


@function_tool
async def pay_invoice(
    ctx: RunContextWrapper[PaymentContext], creditor_name: str, amount: str, currency: str
) -> dict[str, Any]:
    """Pay an invoice, once the user has approved exactly this payment on their device.

    Args:
        creditor_name: who is paid, as on the invoice.
        amount: the amount, a decimal string such as 50.00.
        currency: ISO 4217 currency code, such as USD.
    """
    context = ctx.context
    context.asked += 1
    request: ApprovalRequest = {
        "loginHint": context.login_hint,
        "bindingMessage": binding_message(amount, currency, creditor_name),
        "authorizationDetails": [payment_initiation(amount, currency, creditor_name)],
        "scope": "openid",
    }
    key = f"pay-{context.asked}"
    try:
        approval = await request_approval(
            request, key=key, task_queue=context.approval_task_queue, parent_seal=context.seal
        )
    except ApprovalFailed as failure:
        refusal = {
            "status": "refused",
            "reason": failure.type,
            "message": failure.message,
            "instruction": "The payment was not made. Do not retry; tell the user.",
        }
        context.refusals.append(refusal)
        return refusal
    receipt = await workflow.execute_activity_method(
        PaymentActivities.execute_payment,
        ExecutePaymentInput(
            approval["accessToken"],
            amount,
            currency,
            creditor_name,
            idempotency_key=context.seal.approval_request_id(key) if context.seal else None,
        ),
        start_to_close_timeout=timedelta(seconds=30),
        # The payments API is idempotent on the approval's request id (Idempotency-Key): neither a retry nor a copy of
        # this workflow's input started again can pay twice.
        retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=["PaymentRefused"]),
    )
    paid = {"status": "paid", "paymentId": receipt["paymentId"], "approvedAt": approval["approvedAt"]}
    context.payments.append(paid)
    return paid


@workflow.defn
class InvoiceAgentWorkflow:
    """The agent: one Runner.run over the user's message, with the pay_invoice tool."""

    @workflow.run
    async def run(self, input: InvoiceAgentInput) -> InvoiceAgentResult:
        # Before anything else: a copy of this input, started again, does nothing. Runs started before seals (no
        # marker in their history) run as they did.
        seal = check_start_seal(input.seal) if workflow.patched(SEALED_START) else None
        context = PaymentContext(input.login_hint, input.approval_task_queue, seal)
        agent = Agent[PaymentContext](name="Invoice payer", instructions=INSTRUCTIONS, tools=[pay_invoice])
        result = await Runner.run(agent, input.prompt, context=context)
        return InvoiceAgentResult(str(result.final_output), context.payments, context.refusals)


def payments_api_url(env: dict[str, str] | None = None) -> str:
    """DEMO_PAYMENTS_API_URL, else the local provider's demo API under CIBA_ISSUER (as the TypeScript worker)."""
    env = dict(os.environ if env is None else env)
    if env.get("DEMO_PAYMENTS_API_URL"):
        return env["DEMO_PAYMENTS_API_URL"]
    issuer = env.get("CIBA_ISSUER", "http://127.0.0.1:3000")
    return issuer.rstrip("/") + "/api/payments"


class PaymentActivities:
    """The agent's one side effect: a payment at the payments API, with the approval's access token."""

    def __init__(self, url: str) -> None:
        self.url = url

    @activity.defn(name="execute_payment")
    async def execute_payment(self, input: ExecutePaymentInput) -> dict[str, Any]:
        info = activity.info()
        body = {"amount": input.amount, "currency": input.currency, "creditorName": input.creditor_name}
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "authorization": f"Bearer {input.access_token}",
                "content-type": "application/json",
                "idempotency-key": input.idempotency_key or f"{info.workflow_id}/{info.activity_id}",
            },
        )
        status, answer = await asyncio.to_thread(_send, request)
        if status in (401, 403, 422):
            # The token does not authorize this payment, or its Idempotency-Key paid another one: retrying cannot help.
            error = answer.get("error", f"HTTP {status}")
            raise ApplicationError(f"the payments API refused the payment: {error}", type="PaymentRefused")
        if status >= 300:
            raise RuntimeError(f"the payments API answered HTTP {status}")
        return answer


def _send(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}


def openai_agents_plugin(model_provider: Any = None) -> Any:
    """Temporal's OpenAI Agents plugin (model calls become activities); ``model_provider`` None: OpenAI's."""
    from temporalio.contrib.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin

    return OpenAIAgentsPlugin(
        model_params=ModelActivityParameters(start_to_close_timeout=timedelta(seconds=60)),
        model_provider=model_provider,
    )


def worker_for(client: Any, task_queue: str, payments_url: str | None = None) -> Any:
    """A worker for the agent on ``task_queue``; ``client`` must carry the plugin and the payload codec."""
    from temporalio.worker import Worker

    payments = PaymentActivities(payments_url or payments_api_url())
    return Worker(
        client, task_queue=task_queue, workflows=[InvoiceAgentWorkflow], activities=[payments.execute_payment]
    )


async def _main(argv: list[str]) -> int:
    from ciba_temporal.client import connect_temporal_client

    from .fake_model import FakeInvoiceModelProvider

    use_openai = "--openai" in argv
    args = [a for a in argv if a != "--openai"]
    invoice = args[0] if args else '{"creditor_name": "ExampleCorp", "amount": "50.00", "currency": "USD"}'
    plugin = openai_agents_plugin(None if use_openai else FakeInvoiceModelProvider())
    client = await connect_temporal_client(plugins=[plugin])
    task_queue = f"invoice-agent-{uuid.uuid4().hex[:8]}"
    workflow_id = f"invoice-agent-{uuid.uuid4().hex[:8]}"
    async with worker_for(client, task_queue):
        result = await client.execute_workflow(
            InvoiceAgentWorkflow.run,
            InvoiceAgentInput(
                prompt=f"Please pay this invoice: {invoice}",
                login_hint=os.environ.get("CIBA_LOGIN_HINT", "alice@example.com"),
                approval_task_queue=os.environ.get("CIBA_TASK_QUEUE", "ciba-approvals"),
                seal=new_start_seal(workflow_id),
            ),
            id=workflow_id,
            task_queue=task_queue,
        )
    print(result.final_output)
    # 0 whenever the agent ran to its answer, payment made or not: a refusal (denied, expired, ...) is an outcome the
    # agent handled and the model explained, not a failure of the agent (as agents/pay-invoice/run.ts). Failures of
    # the run itself (the workflow failed, no connection) raise, and exit 1.
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
