"""Replays, as an attacker with read access to Temporal would try them: copy a workflow's encrypted input out of its
history, byte for byte, and start it again (as ``temporal workflow start`` could); and what the provider saw, from
its own request log (``GET /dev/log``) and the demo payments API's ledger (``GET /dev/payments``), not from what the
client believes."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
import uuid
from typing import Any

from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError, ChildWorkflowError


async def started_input(client: Client, workflow_id: str) -> list[Any]:
    """The decoded input of a workflow's latest run (its WorkflowExecutionStarted event), with this client's codec."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    return await client.data_converter.decode(payloads)


async def child_inputs(client: Client, workflow_id: str) -> list[tuple[str, list[Any]]]:
    """Each child a workflow started, in order: its workflow id and decoded input (from the parent's history)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    children = []
    for event in history.events:
        if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
            attributes = event.start_child_workflow_execution_initiated_event_attributes
            children.append((attributes.workflow_id, await client.data_converter.decode(attributes.input.payloads)))
    return children


async def start_copy(client: Client, from_workflow_id: str, workflow_id: str, task_queue: str) -> None:
    """Starts ``workflow_id`` with ``from_workflow_id``'s encrypted input, byte for byte (no key needed)."""
    history = await client.get_workflow_handle(from_workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    await client.workflow_service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_id=workflow_id,
            workflow_type=started.workflow_type,
            task_queue=TaskQueue(name=task_queue),
            input=started.input,
            identity="attacker",
            request_id=str(uuid.uuid4()),
        )
    )


async def failure_of(client: Client, workflow_id: str) -> ApplicationError:
    """The failure a workflow ended with (a parent whose child failed: the child's)."""
    try:
        await client.get_workflow_handle(workflow_id).result()
    except WorkflowFailureError as error:
        cause = error.cause
        if isinstance(cause, ChildWorkflowError):
            cause = cause.cause
        assert isinstance(cause, ApplicationError), repr(cause)
        return cause
    raise AssertionError(f"{workflow_id} was expected to fail")


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


async def backchannel_requests(issuer: str, binding_message: str) -> list[dict[str, Any]]:
    """The backchannel authentication requests (POST /bc-authorize) the provider got with this binding message."""
    url = f"{issuer.rstrip('/')}/dev/log?{urllib.parse.urlencode({'bindingMessage': binding_message})}"
    return [entry for entry in await asyncio.to_thread(_get_json, url) if entry["endpoint"] == "bc-authorize"]


async def payments_to(issuer: str, creditor_name: str) -> list[dict[str, Any]]:
    """The payments the demo payments API executed for this creditor."""
    url = f"{issuer.rstrip('/')}/dev/payments"
    return [p for p in await asyncio.to_thread(_get_json, url) if p["creditorName"] == creditor_name]
