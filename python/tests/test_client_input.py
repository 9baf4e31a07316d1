"""ApprovalClient refuses bad input before anything starts: no stack needed (its Temporal client must not be called)."""

from __future__ import annotations

from typing import Any

import pytest

from ciba_temporal.client import ApprovalClient
from ciba_temporal.errors import InvalidApprovalRequestError


class NoTemporal:
    """A Temporal client that fails any call: a refused request must not reach it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the Temporal client was used ({name}) for a request that should have been refused")


@pytest.mark.parametrize("blank", [" ", "   ", "\u3000"])
async def test_a_blank_binding_message_starts_nothing(blank: str) -> None:
    # As ApprovalRequestSchema (TypeScript client, HTTP API, ciba, the worker): not only spaces.
    approvals = ApprovalClient(NoTemporal())  # type: ignore[arg-type]
    with pytest.raises(InvalidApprovalRequestError, match="bindingMessage"):
        await approvals.start({"loginHint": "alice@example.com", "bindingMessage": blank}, key="blank")
