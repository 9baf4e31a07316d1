"""The approval contract, as in common/approval.ts: JSON field names as on the wire (camelCase).

``ApprovalRequest`` is ``ApprovalRequestSchema``'s input, ``ApprovalResult`` the tokens an approval hands back and
``ApprovalState`` the answer of the approval's ``status`` query. The worker validates every request again (its zod
schema is the authority); ``check_request`` refuses the obvious mistakes before anything starts.

Imported by workflow code: keep it deterministic (no I/O).
"""

from __future__ import annotations

import re
from typing import Any, Literal, NotRequired, Required, TypedDict

AuthorizationDetail = dict[str, Any]
"""One RFC 9396 authorization details object: a non-empty string ``type`` and the type's own members."""

ApprovalStatus = Literal["initiating", "pending", "approved", "denied", "expired", "failed", "cancelled"]

BINDING_MESSAGE_PATTERN = re.compile(r"[\w +\-.,:#]{1,64}")
"""Auth0's (and the local provider's) rule: at most 64 letters, digits, spaces and ``+-_.,:#``."""


class AskAgainPolicy(TypedDict, total=False):
    """When an ask expires (or its final answer was lost) before the approval deadline: ask again."""

    maxAsks: int
    """How many times the user may be asked in all, the first ask included (default 3)."""
    delayBetweenAsks: int | str
    """Seconds, or a duration such as ``"90s"``, ``"1m"`` (default 60 s)."""
    afterLostAnswer: bool
    """Ask again when an ask's final answer was lost (default False: it may have been a denial)."""


class StartSeal(TypedDict):
    """Binds an input to the one workflow it was made for, once (common/start-seal.ts; ``ciba_temporal.seal``)."""

    workflowId: str
    """The workflow ID the input was made for."""
    issuedAt: str
    """When the input was made (ISO 8601, UTC, e.g. ``2025-01-01T12:00:00.000Z``)."""
    requestId: str
    """The request's one identity: 16 to 1000 characters of letters, digits and ``_.:/@#%-``."""


class ApprovalRequest(TypedDict, total=False):
    """What an agent asks for. Exactly one of ``loginHint``, ``loginHintToken``, ``idTokenHint``."""

    loginHint: str
    loginHintToken: str
    idTokenHint: str
    scope: str
    """Space-separated; ``openid`` is added when missing."""
    bindingMessage: Required[str]
    """Shown on the user's device and in the client."""
    authorizationDetails: list[AuthorizationDetail]
    """RFC 9396: the exact transaction the user approves."""
    audience: str
    requestedExpiry: int
    """Seconds the user has to decide (provider default when absent)."""
    acrValues: list[str]
    approvalTimeout: int | str
    """The approval's own deadline: seconds or ``"24h"`` (default 24 h, at most 30 d)."""
    askAgain: AskAgainPolicy
    ungrantedAuthorizationDetails: Literal["fail", "accept"]
    pollingMode: Literal["timer", "compact"]
    continueAsNewAfterEvents: int
    seal: StartSeal
    """Required by the approval worker: ``ApprovalClient.start`` and ``request_approval`` add it (replacing any
    given); a caller that starts ``cibaApproval`` itself adds ``ciba_temporal.seal.new_start_seal(workflow_id)``."""


class ApprovalResult(TypedDict):
    """The tokens of an approved request (the provider's token response) and when it came."""

    tokenType: str
    accessToken: str
    idToken: NotRequired[str]
    refreshToken: NotRequired[str]
    expiresIn: NotRequired[int]
    """Access token lifetime in seconds, as the provider reported it."""
    scope: NotRequired[str]
    authorizationDetails: NotRequired[list[AuthorizationDetail]]
    """What the provider granted (RFC 9396)."""
    approvedAt: str
    """ISO 8601, workflow time."""


class Ask(TypedDict, total=False):
    """One backchannel request the user got (one ``auth_req_id``)."""

    number: Required[int]
    reason: Required[Literal["first", "expired", "lost_token_response"]]
    askedAt: Required[str]
    authReqId: str
    expiresAt: str
    outcome: Literal["approved", "not_granted", "denied", "expired", "lost_token_response"]


class ApprovalFailureInfo(TypedDict):
    type: str
    message: str


class ApprovalState(TypedDict, total=False):
    """The approval's ``status`` query answer (it holds no token)."""

    status: Required[ApprovalStatus]
    bindingMessage: Required[str]
    approvalDeadline: Required[str]
    askCount: Required[int]
    asks: Required[list[Ask]]
    continuedAsNew: Required[int]
    authReqId: str
    expiresAt: str
    intervalSeconds: int
    polls: Required[int]
    slowDowns: Required[int]
    lastPollAt: str
    lastPollOutcome: str
    failure: ApprovalFailureInfo


def payment_initiation(amount: str, currency: str, creditor_name: str) -> AuthorizationDetail:
    """An RFC 9396 ``payment_initiation`` entry, as the TypeScript sample agent builds it (common/payment.ts)."""
    return {
        "type": "payment_initiation",
        "actions": ["initiate"],
        "instructedAmount": {"currency": currency, "amount": amount},
        "creditorName": creditor_name,
    }


def check_request(request: ApprovalRequest) -> list[str]:
    """The problems a request obviously has (empty when none); the worker checks everything again."""
    problems: list[str] = []
    hints = [h for h in ("loginHint", "loginHintToken", "idTokenHint") if request.get(h) is not None]
    if len(hints) != 1:
        problems.append(
            "one of loginHint, loginHintToken or idTokenHint is required"
            if not hints
            else f"exactly one of loginHint, loginHintToken or idTokenHint is allowed, got {' and '.join(hints)}"
        )
    message = request.get("bindingMessage")
    if not isinstance(message, str) or not BINDING_MESSAGE_PATTERN.fullmatch(message):
        problems.append("bindingMessage must be 1 to 64 letters, digits, spaces and +-_.,:#")
    details = request.get("authorizationDetails")
    if details is not None:
        if not isinstance(details, list) or not details:
            problems.append("authorizationDetails, when given, must be a non-empty list of objects")
        elif not all(isinstance(d, dict) and isinstance(d.get("type"), str) and d["type"] for d in details):
            problems.append('every authorizationDetails entry needs a non-empty string "type"')
    return problems
