"""Typed failures: one class per failure type of common/outcomes.ts (``FAILURE_OUTCOMES``), all ``ApprovalFailed``.

They are Temporal ``ApplicationError``s (non-retryable), so a workflow that does not catch one fails with the same
type, as a TypeScript agent would. ``approval_failure(type, message)`` makes the right one; a type this table does
not know (from a newer worker) becomes a plain ``ApprovalFailed`` that keeps it.

Imported by workflow code: keep it deterministic (no I/O).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from temporalio.exceptions import ApplicationError


class ApprovalFailed(ApplicationError):
    """The approval ended without tokens; ``type`` says why (a key of FAILURE_OUTCOMES), ``message`` how."""

    failure_type: ClassVar[str] = "ApprovalFailed"

    def __init__(
        self,
        message: str,
        *details: Any,
        type: str | None = None,
        workflow_id: str | None = None,
    ) -> None:
        super().__init__(message, *details, type=type or self.failure_type, non_retryable=True)
        self.workflow_id = workflow_id
        """The approval's workflow id, where known."""

    @property
    def type(self) -> str:  # type: ignore[override]
        """The failure type: ApprovalDenied, ApprovalExpired, ... (never None)."""
        return super().type or self.failure_type


class AuthorizationDetailsNotGranted(ApprovalFailed):
    """The user approved, but the provider did not grant the requested authorization_details: tokens withheld."""

    failure_type = "AuthorizationDetailsNotGranted"


class ApprovalDenied(ApprovalFailed):
    """The user denied the request."""

    failure_type = "ApprovalDenied"


class ApprovalExpired(ApprovalFailed):
    """No decision before the last ask expired, or before the approval deadline."""

    failure_type = "ApprovalExpired"


class ApprovalLost(ApprovalFailed):
    """The provider's final answer (an approval or a denial) was lost on the way back; not asked again by default."""

    failure_type = "ApprovalLost"


class CibaProviderError(ApprovalFailed):
    """The provider rejected the backchannel request (details[0]: error, errorDescription, status, cibaError)."""

    failure_type = "CibaProviderError"


class ApprovalInitiationUncertain(ApprovalFailed):
    """The backchannel request may have reached the provider, but no answer came back; not sent again."""

    failure_type = "ApprovalInitiationUncertain"


class ProviderUnavailable(ApprovalFailed):
    """The backchannel request could not reach the provider in 5 attempts."""

    failure_type = "ProviderUnavailable"


class InvalidProviderResponse(ApprovalFailed):
    """The provider's answer is not valid OAuth/CIBA."""

    failure_type = "InvalidProviderResponse"


class InvalidApprovalRequest(ApprovalFailed):
    """The request failed validation (here, in the worker, or the provider profile's rules); nothing was sent."""

    failure_type = "InvalidApprovalRequest"


class PayloadNotEncrypted(ApprovalFailed):
    """A payload was not encrypted with the payload key; nothing was sent."""

    failure_type = "PayloadNotEncrypted"


class PayloadKeyMismatch(ApprovalFailed):
    """A payload was encrypted with a key the reader does not have (the message names both key ids)."""

    failure_type = "PayloadKeyMismatch"


class InputNotSealed(ApprovalFailed):
    """The input carries no valid start seal (it was not made by a client of this version); nothing was sent."""

    failure_type = "InputNotSealed"


class InputReplayed(ApprovalFailed):
    """The input was made for another workflow ID, is older than the freshness window, or was used once already: a
    replay (an encrypted input copied from history and started again); nothing was sent."""

    failure_type = "InputReplayed"


class AskRateLimited(ApprovalFailed):
    """The user has too many pending asks, or was asked too often lately; nothing was sent. Retry after ``retry_at``
    (details[0] = ``{"limit": "pending" | "hourly", "max": int, "retryAt": ISO 8601}``)."""

    failure_type = "AskRateLimited"

    def _detail(self, name: str) -> Any:
        first = self.details[0] if self.details else None
        return first.get(name) if isinstance(first, dict) else None

    @property
    def limit(self) -> str | None:
        """Which limit: ``pending`` (asks pending at once) or ``hourly`` (asks in the last hour)."""
        return self._detail("limit")

    @property
    def max(self) -> int | None:
        """The limit's value."""
        return self._detail("max")

    @property
    def retry_at(self) -> str | None:
        """When an ask may be granted again (ISO 8601)."""
        return self._detail("retryAt")


class ActivityFailed(ApprovalFailed):
    """An activity failed in a way no rule covers (a bug or an unexpected worker error)."""

    failure_type = "ActivityFailed"


class ApprovalCancelled(ApprovalFailed):
    """The agent (or an operator) cancelled the approval."""

    failure_type = "ApprovalCancelled"


class ApprovalTerminated(ApprovalFailed):
    """The approval workflow was terminated."""

    failure_type = "ApprovalTerminated"


class ApprovalTimedOut(ApprovalFailed):
    """The approval workflow hit a Temporal timeout set at its start."""

    failure_type = "ApprovalTimedOut"


FAILURE_TYPES: dict[str, type[ApprovalFailed]] = {
    cls.failure_type: cls
    for cls in (
        AuthorizationDetailsNotGranted,
        ApprovalDenied,
        ApprovalExpired,
        ApprovalLost,
        CibaProviderError,
        ApprovalInitiationUncertain,
        ProviderUnavailable,
        InvalidProviderResponse,
        InvalidApprovalRequest,
        PayloadNotEncrypted,
        PayloadKeyMismatch,
        InputNotSealed,
        InputReplayed,
        AskRateLimited,
        ActivityFailed,
        ApprovalCancelled,
        ApprovalTerminated,
        ApprovalTimedOut,
        ApprovalFailed,
    )
}
"""Every failure type, in the order of common/outcomes.ts, to its class."""


def approval_failure(
    type: str | None, message: str, details: Sequence[Any] = (), workflow_id: str | None = None
) -> ApprovalFailed:
    """The typed failure for ``type`` (``ApprovalFailed`` keeping the type when it is unknown)."""
    cls = FAILURE_TYPES.get(type or "ApprovalFailed", ApprovalFailed)
    return cls(message, *details, type=type or None, workflow_id=workflow_id)


class InvalidApprovalRequestError(ValueError):
    """Bad input to ApprovalClient.start: nothing was started."""
