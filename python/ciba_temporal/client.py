"""For services that are not Temporal workflows: start an approval, read its status, wait for its result, cancel it.

The same contract as client/approvals.ts: workflow id ``ciba-approval-<key>``, started with id conflict policy FAIL
and reuse policy REJECT_DUPLICATE, so the same key always means the same approval (one workflow, one notification),
running or finished; of starts that race with one key, exactly one reports ``started=True``. Every input it starts
carries a start seal for its workflow ID (``ciba_temporal.seal.new_start_seal``), which the approval worker requires.

Settings come from the same environment variables as common/config.ts: Temporal's own (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, temporal.toml; read by temporalio.envconfig as
the TypeScript side reads them with @temporalio/envconfig), CIBA_TASK_QUEUE, and CIBA_PAYLOAD_KEY (or
CIBA_PAYLOAD_KEY_FILE) with CIBA_PAYLOAD_PREVIOUS_KEYS, and for a server with a JWT authorizer the refreshing token of
CIBA_TEMPORAL_TOKEN_URL (ciba_temporal.temporal_token), as in TypeScript.
"""

from __future__ import annotations

import dataclasses
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from temporalio.client import Client, Plugin, WorkflowFailureError
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    WorkflowAlreadyStartedError,
)
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from .codec import EncryptionCodec, PayloadKeyMismatchError, key_mismatch_message, parse_payload_key
from .errors import ApprovalFailed, InvalidApprovalRequestError, PayloadKeyMismatch, approval_failure
from .seal import new_start_seal
from .summary import approval_details, approval_summary, list_summary
from .temporal_token import TemporalTokenConfigError, token_endpoint_from_env, token_source
from .types import ApprovalRequest, ApprovalResult, ApprovalState, check_request

APPROVAL_WORKFLOW_TYPE = "cibaApproval"
APPROVAL_ID_PREFIX = "ciba-approval-"
"""Prefix of the workflow ids this client gives approvals."""
DEFAULT_TASK_QUEUE = "ciba-approvals"
STATUS_QUERY = "status"
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")


def approval_workflow_id(key: str) -> str:
    """``ciba-approval-<key>`` (a key that already has the prefix is the id itself)."""
    return key if key.startswith(APPROVAL_ID_PREFIX) else APPROVAL_ID_PREFIX + key


def data_converter(codec: EncryptionCodec) -> DataConverter:
    """Temporal's default data converter with the payload codec: what every client and worker of approvals needs."""
    return dataclasses.replace(DataConverter.default, payload_codec=codec)


async def connect_temporal_client(
    *,
    address: str | None = None,
    namespace: str | None = None,
    payload_key: str | bytes | None = None,
    codec: EncryptionCodec | None = None,
    env: Mapping[str, str] | None = None,
    plugins: Sequence[Plugin] = (),
    **connect_options: Any,
) -> Client:
    """A Temporal client with the project's connection settings and encrypting data converter.

    Arguments override the environment (``env``, default ``os.environ``): ``address`` TEMPORAL_ADDRESS, ``namespace``
    TEMPORAL_NAMESPACE, ``payload_key`` (base64 or 32 bytes) CIBA_PAYLOAD_KEY; ``codec`` replaces the key settings.
    Python workers of agent workflows connect with this too (pass ``plugins``, e.g. the OpenAI Agents plugin).

    Raises:
        TemporalTokenConfigError: CIBA_TEMPORAL_TOKEN_* settings that are incomplete, or set beside an API key.
    """
    # A blank TEMPORAL_* variable (an .env placeholder) leaves the profile's setting in place, as in TypeScript.
    environment = {
        name: value
        for name, value in (os.environ if env is None else env).items()
        if not (name.startswith("TEMPORAL_") and value.strip() == "")
    }
    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config(override_env_vars=environment))
    config.setdefault("target_host", "localhost:7233")
    config.setdefault("namespace", "default")
    if address:
        config["target_host"] = address
    if namespace:
        config["namespace"] = namespace
    if codec is None:
        if payload_key is not None:
            key = payload_key if isinstance(payload_key, bytes) else parse_payload_key(payload_key)
            codec = EncryptionCodec(key)
        else:
            codec = EncryptionCodec.from_env(environment)
    # CIBA_TEMPORAL_TOKEN_URL: a client-credentials token as the API key, renewed before it expires.
    endpoint = token_endpoint_from_env(environment)
    source = None
    if endpoint is not None:
        if config.get("api_key") is not None:
            raise TemporalTokenConfigError(
                "set TEMPORAL_API_KEY (a static token) or CIBA_TEMPORAL_TOKEN_URL (client credentials), not both"
            )
        source = token_source(endpoint)
        config["api_key"] = await source.token()
    target_host = config.pop("target_host")
    client = await Client.connect(
        target_host, data_converter=data_converter(codec), plugins=list(plugins), **config, **connect_options
    )
    if source is not None:
        source.keep_fresh(client)
    return client


@dataclasses.dataclass(frozen=True)
class StartedApproval:
    workflow_id: str
    started: bool
    """False when an approval with this key already existed (running or finished) and was returned instead."""


@dataclasses.dataclass(frozen=True)
class ApprovalStatusReport:
    workflow_id: str
    execution: str
    """Temporal's view, named as in TypeScript: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ..."""
    approval: ApprovalState | None = None
    """The approval's own view (its ``status`` query); None when no worker could answer it."""
    failure: dict[str, str] | None = None
    """How a FAILED approval ended when its status query could not say: ``{"type", "message"}``."""


CIBA_SUMMARY = SearchAttributeKey.for_keyword("CibaSummary")


def _env_bool(value: str | None) -> bool:
    """As zod's stringbool: true/1/yes/on and false/0/no/off (any case); unset or blank is false."""
    text = (value or "").strip().lower()
    if text in ("", "false", "0", "no", "off", "n", "disabled"):
        return False
    if text in ("true", "1", "yes", "on", "y", "enabled"):
        return True
    raise ValueError(f"CIBA_SUMMARY_SEARCH_ATTRIBUTE: {value!r} is not a boolean (true or false)")


class ApprovalClient:
    """Start, watch, await and cancel approvals (see the module docstring)."""

    def __init__(
        self, client: Client, task_queue: str = DEFAULT_TASK_QUEUE, *, summary_search_attribute: bool = False
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        # CIBA_SUMMARY_SEARCH_ATTRIBUTE: approvals started here carry CibaSummary, a list column in the Temporal UI
        # ("Pay 50.00 USD to ExampleCorp", no user): plaintext on the Temporal server, so off by default.
        self.summary_search_attribute = summary_search_attribute

    @classmethod
    async def connect(
        cls,
        *,
        address: str | None = None,
        namespace: str | None = None,
        task_queue: str | None = None,
        payload_key: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        **connect_options: Any,
    ) -> "ApprovalClient":
        """Connects with the settings from the environment; arguments override it (see connect_temporal_client)."""
        environment = dict(os.environ if env is None else env)
        client = await connect_temporal_client(
            address=address, namespace=namespace, payload_key=payload_key, env=environment, **connect_options
        )
        return cls(
            client,
            task_queue or environment.get("CIBA_TASK_QUEUE") or DEFAULT_TASK_QUEUE,
            summary_search_attribute=_env_bool(environment.get("CIBA_SUMMARY_SEARCH_ATTRIBUTE")),
        )

    async def start(self, request: ApprovalRequest, *, key: str | None = None) -> StartedApproval:
        """Starts the approval workflow; the same ``key`` gives the same approval.

        Raises:
            InvalidApprovalRequestError: bad input or key; nothing was started.
        """
        problems = check_request(request) + _blank_binding_message(request)
        if problems:
            raise InvalidApprovalRequestError("; ".join(problems))
        key = key if key is not None else str(uuid.uuid4())
        if not _KEY_PATTERN.fullmatch(key):
            raise InvalidApprovalRequestError("key must be 1 to 200 characters of letters, digits and _ . : @ -")
        workflow_id = approval_workflow_id(key)
        # Sealed for this workflow ID, now, with a random request id (common/start-seal.ts): a copy of this input taken
        # from history and started again, under another ID or later under this one, asks nobody.
        sealed: ApprovalRequest = {**request, "seal": new_start_seal(workflow_id)}
        try:
            await self.client.start_workflow(
                APPROVAL_WORKFLOW_TYPE,
                sealed,
                id=workflow_id,
                task_queue=self.task_queue,
                # Running or finished already: the server refuses, and that approval is returned. Of starts that race,
                # the server lets exactly one through.
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=approval_summary(request),
                static_details=approval_details(request),
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(CIBA_SUMMARY, list_summary(request))] if self.summary_search_attribute else []
                ),
            )
            return StartedApproval(workflow_id, True)
        except WorkflowAlreadyStartedError:
            return StartedApproval(workflow_id, False)

    async def status(self, workflow_id: str) -> ApprovalStatusReport:
        """Temporal's and the approval's view.

        Raises:
            PayloadKeyMismatch: this client cannot read the approval's status, or the approval ended so.
        """
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            description = await handle.describe()
            try:
                approval: ApprovalState | None = await handle.query(STATUS_QUERY, result_type=dict)
            except Exception as error:  # no worker answered, or the run is gone: the status is Temporal's alone
                if _key_mismatch_in(error):
                    raise
                approval = None
        except Exception as error:
            raise _client_key_mismatch(workflow_id, error, "the status of") or error
        execution = description.status.name if description.status is not None else "UNSPECIFIED"
        # The TypeScript client's names (WorkflowExecutionStatusName) spell it CANCELLED.
        execution = "CANCELLED" if execution == "CANCELED" else execution
        failure = None
        if approval is None and execution == "FAILED":
            try:
                await self.result(workflow_id)
            except PayloadKeyMismatch:
                raise
            except ApprovalFailed as ended:
                failure = {"type": ended.type, "message": ended.message}
        return ApprovalStatusReport(workflow_id, execution, approval, failure)

    async def result(self, workflow_id: str) -> ApprovalResult:
        """Waits for the outcome: the tokens, or a typed ``ApprovalFailed`` that says why there are none."""
        try:
            return await self.client.get_workflow_handle(workflow_id, result_type=dict).result()
        except WorkflowFailureError as error:
            raise _failure_of(workflow_id, error) from error
        except Exception as error:
            mismatch = _client_key_mismatch(workflow_id, error, "the result of")
            if mismatch is None:
                raise
            raise mismatch from error

    async def cancel(self, workflow_id: str) -> None:
        """Asks the approval to stop; it ends as cancelled once its current step has stopped."""
        await self.client.get_workflow_handle(workflow_id).cancel()


def _blank_binding_message(request: ApprovalRequest) -> list[str]:
    """The schema's rule that check_request's character pattern lets through: not only spaces.

    ApprovalRequestSchema (common/approval.ts), and so the TypeScript client, the HTTP API, ``ciba`` and the approval
    worker, takes a binding message only when it is not all whitespace (the generic provider profile's rule, in
    common/provider-profile.ts); started anyway, such a request would fail in the worker with InvalidApprovalRequest.
    """
    message = request.get("bindingMessage")
    if isinstance(message, str) and message and not message.strip():
        return ["bindingMessage must not be only spaces"]
    return []


def _failure_of(workflow_id: str, error: WorkflowFailureError) -> ApprovalFailed:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return approval_failure(cause.type, cause.message, tuple(cause.details), workflow_id)
    if isinstance(cause, CancelledError):
        return approval_failure("ApprovalCancelled", "the approval was cancelled", (), workflow_id)
    if isinstance(cause, TerminatedError):
        return approval_failure("ApprovalTerminated", "the approval was terminated", (), workflow_id)
    if isinstance(cause, TemporalTimeoutError):
        return approval_failure("ApprovalTimedOut", "the approval workflow timed out", (), workflow_id)
    return approval_failure("ApprovalFailed", getattr(cause, "message", None) or str(error), (), workflow_id)


def _key_mismatch_in(error: BaseException | None) -> PayloadKeyMismatchError | None:
    """The codec's PayloadKeyMismatchError, wherever it is in the cause chain."""
    for _ in range(10):
        if error is None:
            return None
        if isinstance(error, PayloadKeyMismatchError):
            return error
        error = error.__cause__ or error.__context__
    return None


def _client_key_mismatch(workflow_id: str, error: BaseException, what: str) -> PayloadKeyMismatch | None:
    """A PayloadKeyMismatch naming both key ids when this client could not decrypt a payload of the approval."""
    mismatch = _key_mismatch_in(error)
    if mismatch is None:
        return None
    reason = key_mismatch_message(
        f"{what} approval {workflow_id}", mismatch.payload_key_id, "client", mismatch.key_ids, mismatch.corrupted
    )
    failure = PayloadKeyMismatch(reason, workflow_id=workflow_id)
    failure.unreadable_by = "client"  # type: ignore[attr-defined]
    return failure
