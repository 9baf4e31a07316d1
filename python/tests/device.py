"""The user's authentication device, over the local provider's device API (plain HTTP, as test/support/stack.ts):

* ``GET {issuer}/device/requests``: the pending requests (auth_req_id, user, binding_message, authorization_details);
* ``POST {issuer}/device/requests/{auth_req_id}/approve`` or ``/deny``: the user's decision.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

HANG_DETECTOR_SECONDS = 300.0
"""How long a wait waits for its condition before it calls it a hang (never a timed assertion)."""


class Device:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.issuer}{path}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    async def pending(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._call, "GET", "/device/requests")

    async def wait_for(self, binding_message: str) -> dict[str, Any]:
        """Waits until a request with this binding message is pending on the device."""
        deadline = time.monotonic() + HANG_DETECTOR_SECONDS
        while True:
            for request in await self.pending():
                if request["binding_message"] == binding_message:
                    return request
            if time.monotonic() > deadline:
                raise AssertionError(f'no pending request "{binding_message}" after {HANG_DETECTOR_SECONDS} s (hang)')
            await asyncio.sleep(0.2)

    async def decide(self, auth_req_id: str, decision: str) -> None:
        path = f"/device/requests/{urllib.parse.quote(auth_req_id, safe='')}/{decision}"
        await asyncio.to_thread(self._call, "POST", path)

    async def approve_when_asked(self, binding_message: str) -> dict[str, Any]:
        request = await self.wait_for(binding_message)
        await self.decide(request["auth_req_id"], "approve")
        return request

    async def deny_when_asked(self, binding_message: str) -> dict[str, Any]:
        request = await self.wait_for(binding_message)
        await self.decide(request["auth_req_id"], "deny")
        return request


def unique_binding_message(prefix: str) -> str:
    """A binding message no other test uses (Auth0's rule: letters, digits, spaces, +-_.,:#)."""
    import uuid

    return f"{prefix} {uuid.uuid4().hex[:8]}"


def jwt_payload(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified."""
    import base64

    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


async def wait_until(probe: Callable[[], Awaitable[T]], condition: Callable[[T], bool], every: float = 0.2) -> T:
    """Probes until `condition` holds for what `probe` returns; past the hang detector, fails with the last value."""
    deadline = time.monotonic() + HANG_DETECTOR_SECONDS
    while True:
        value = await probe()
        if condition(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not the case after {HANG_DETECTOR_SECONDS} s (hang); last: {value!r}")
        await asyncio.sleep(every)
