"""A scripted stand-in for a language model (the OpenAI Agents SDK's ``Model``), for tests and demos offline.

It plays an assistant that pays the invoice in the user's message: its first turn calls the ``pay_invoice`` tool
with the invoice's fields (the first JSON object in the message); once the tool has answered, it reports the tool's
answer back verbatim (``Tool pay_invoice answered: {...}``), so a test can see exactly what the model was told.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from agents import (
    AgentOutputSchemaBase,
    Handoff,
    Model,
    ModelProvider,
    ModelResponse,
    ModelSettings,
    ModelTracing,
    Tool,
    TResponseInputItem,
    Usage,
)
from agents.items import TResponseStreamEvent
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

TOOL_ANSWER_PREFIX = "Tool pay_invoice answered: "


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(_field(part, "text") or "") for part in content)
    return ""


def _first_json_object(text: str) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        raise ValueError("the user's message holds no invoice (a JSON object)")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value


class FakeInvoiceModel(Model):
    """Calls ``pay_invoice`` for the invoice in the user's message, then repeats the tool's answer."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        **kwargs: Any,
    ) -> ModelResponse:
        """One turn: a tool call, or (after the tool answered) a message with the tool's answer."""
        self.calls += 1
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        answers = [_field(i, "output") for i in items if _field(i, "type") == "function_call_output"]
        if answers:
            output: Any = _message(TOOL_ANSWER_PREFIX + str(answers[-1]))
        else:
            user_text = " ".join(_text_of(_field(i, "content")) for i in items if _field(i, "role") == "user")
            invoice = _first_json_object(user_text)
            arguments = {k: invoice[k] for k in ("creditor_name", "amount", "currency")}
            output = ResponseFunctionToolCall(
                arguments=json.dumps(arguments),
                call_id=f"call-{self.calls}",
                name="pay_invoice",
                type="function_call",
                id=f"fc-{self.calls}",
                status="completed",
            )
        return ModelResponse(output=[output], usage=Usage(), response_id=None)

    def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        **kwargs: Any,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """Not used by the Temporal plugin's model activity."""
        raise NotImplementedError


class FakeInvoiceModelProvider(ModelProvider):
    """Hands out one FakeInvoiceModel whatever model name the agent asks for."""

    def __init__(self, model: FakeInvoiceModel | None = None) -> None:
        self.model = model or FakeInvoiceModel()

    def get_model(self, model_name: str | None) -> Model:
        return self.model


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg",
        content=[ResponseOutputText(text=text, annotations=[], type="output_text")],
        role="assistant",
        status="completed",
        type="message",
    )
