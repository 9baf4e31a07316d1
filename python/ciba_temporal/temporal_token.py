"""A refreshing client-credentials token for Temporal, as common/client-credentials-token.ts does in TypeScript.

For a Temporal server with a JWT authorizer (docs/cluster-auth.md): when CIBA_TEMPORAL_TOKEN_URL is set, every client
``connect_temporal_client`` makes presents an access token from that token endpoint (OAuth 2.0 client credentials,
RFC 6749 section 4.4) as its API key (``Authorization: Bearer``), and gets a new one before the old one expires,
through ``Client.api_key``. The variables are the TypeScript side's: CIBA_TEMPORAL_TOKEN_URL (https; http only on
loopback), CIBA_TEMPORAL_CLIENT_ID, CIBA_TEMPORAL_CLIENT_SECRET or CIBA_TEMPORAL_CLIENT_SECRET_FILE, and optional
CIBA_TEMPORAL_TOKEN_AUDIENCE and CIBA_TEMPORAL_TOKEN_SCOPE. TEMPORAL_API_KEY (a static token) excludes them.

Not for workflow code (network I/O).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

MIN_RETRY_S = 1.0
MAX_RETRY_S = 60.0
REQUEST_TIMEOUT_S = 15.0
DEFAULT_LIFETIME_S = 300.0


class TemporalTokenConfigError(ValueError):
    """The CIBA_TEMPORAL_TOKEN_* settings are incomplete or contradict each other; the message names the variable."""


@dataclasses.dataclass(frozen=True)
class TokenEndpoint:
    """Where and as whom to ask for tokens."""

    url: str
    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    audience: str | None = None
    scope: str | None = None


@dataclasses.dataclass(frozen=True)
class Token:
    value: str = dataclasses.field(repr=False)
    expires_at: float
    """time.monotonic() seconds."""
    refresh_at: float


class ApiKeyHolder(Protocol):
    """Anything whose bearer token can be replaced: ``temporalio.client.Client`` can (``client.api_key = ...``)."""

    api_key: str | None


def _blank(value: str | None) -> str | None:
    return None if value is None or value.strip() == "" else value


def token_endpoint_from_env(env: Mapping[str, str]) -> TokenEndpoint | None:
    """The token endpoint the environment names, or None when CIBA_TEMPORAL_TOKEN_URL is unset.

    Raises:
        TemporalTokenConfigError: a companion variable is missing, a secret is given twice, the URL is plain http
            off loopback, the secret file cannot be read, or TEMPORAL_API_KEY is set as well.
    """
    url = _blank(env.get("CIBA_TEMPORAL_TOKEN_URL"))
    if url is None:
        return None
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise TemporalTokenConfigError(f"CIBA_TEMPORAL_TOKEN_URL: must be an https URL, got {url!r}")
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        raise TemporalTokenConfigError(
            f"CIBA_TEMPORAL_TOKEN_URL: must be https (http only on loopback), got {parsed.scheme}://{parsed.netloc}"
        )
    client_id = _blank(env.get("CIBA_TEMPORAL_CLIENT_ID"))
    if client_id is None:
        raise TemporalTokenConfigError("CIBA_TEMPORAL_CLIENT_ID: required with CIBA_TEMPORAL_TOKEN_URL")
    secret = _blank(env.get("CIBA_TEMPORAL_CLIENT_SECRET"))
    secret_file = _blank(env.get("CIBA_TEMPORAL_CLIENT_SECRET_FILE"))
    if (secret is None) == (secret_file is None):
        raise TemporalTokenConfigError(
            "CIBA_TEMPORAL_CLIENT_SECRET: with CIBA_TEMPORAL_TOKEN_URL, set exactly one of CIBA_TEMPORAL_CLIENT_SECRET "
            "or CIBA_TEMPORAL_CLIENT_SECRET_FILE"
        )
    if secret_file is not None:
        try:
            with open(secret_file, encoding="utf-8") as file:
                secret = file.read().strip()
        except OSError as error:
            raise TemporalTokenConfigError(
                f"CIBA_TEMPORAL_CLIENT_SECRET_FILE: cannot read {secret_file}: {error.strerror}"
            ) from error
    return TokenEndpoint(
        url=url,
        client_id=client_id,
        client_secret=secret or "",
        audience=_blank(env.get("CIBA_TEMPORAL_TOKEN_AUDIENCE")),
        scope=_blank(env.get("CIBA_TEMPORAL_TOKEN_SCOPE")),
    )


class ClientCredentialsToken:
    """Asks the token endpoint for an access token, keeps it, and asks again when a quarter of its life is left.

    ``keep_fresh(client)`` hands every new token to the client (``client.api_key``) from a background task, until the
    client is garbage-collected or ``stop()``; a failed refresh is retried, backing off, while the held token lasts.
    """

    def __init__(
        self,
        endpoint: TokenEndpoint,
        *,
        request: Callable[[TokenEndpoint], Awaitable[tuple[str, float]]] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._request = request or _request_token
        self._held: Token | None = None
        self._in_flight: asyncio.Future[Token] | None = None
        self._holders: list[weakref.ref[Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._retry_s = MIN_RETRY_S

    async def token(self) -> str:
        """A token that is valid now: the one held, or a new one once it is due."""
        held = self._held
        if held is not None and time.monotonic() < held.refresh_at:
            return held.value
        return (await self._refresh()).value

    def keep_fresh(self, holder: ApiKeyHolder) -> None:
        """Gives ``holder`` every new token from now on (needs a running event loop)."""
        self._holders.append(weakref.ref(holder))
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="ciba-temporal-token-refresh")

    def stop(self) -> None:
        """Stops the background refresh and forgets every holder."""
        if self._task is not None:
            self._task.cancel()
        self._task = None
        self._holders.clear()

    async def _refresh(self) -> Token:
        if self._in_flight is None or self._in_flight.get_loop() is not asyncio.get_running_loop():
            self._in_flight = asyncio.ensure_future(self._fetch())
        try:
            token = await asyncio.shield(self._in_flight)
        finally:
            if self._in_flight is not None and self._in_flight.done():
                self._in_flight = None
        self._held = token
        self._retry_s = MIN_RETRY_S
        self._hand(token.value)
        return token

    async def _fetch(self) -> Token:
        started = time.monotonic()
        value, lifetime = await self._request(self.endpoint)
        before = lifetime / 4
        return Token(value=value, expires_at=started + lifetime, refresh_at=started + lifetime - before)

    def _hand(self, value: str) -> None:
        alive = []
        for ref in self._holders:
            holder = ref()
            if holder is None:
                continue
            try:
                holder.api_key = value
            except Exception:  # closed: forget it
                continue
            alive.append(ref)
        self._holders = alive

    async def _run(self) -> None:
        while self._holders:
            held = self._held
            await asyncio.sleep(max(0.0, held.refresh_at - time.monotonic()) if held else 0.0)
            self._holders = [ref for ref in self._holders if ref() is not None]
            if not self._holders:
                return
            try:
                await self._refresh()
            except Exception as error:  # noqa: BLE001: reported, then tried again while the old token lasts
                warnings.warn(f"Temporal token refresh failed: {error}", RuntimeWarning, stacklevel=1)
                if self._held is not None:
                    self._held = dataclasses.replace(self._held, refresh_at=time.monotonic() + self._retry_s)
                else:
                    await asyncio.sleep(self._retry_s)
                self._retry_s = min(MAX_RETRY_S, self._retry_s * 2)


_sources: dict[TokenEndpoint, ClientCredentialsToken] = {}


def token_source(endpoint: TokenEndpoint) -> ClientCredentialsToken:
    """One token source per endpoint and client in this process, however many clients connect."""
    source = _sources.get(endpoint)
    if source is None:
        source = _sources[endpoint] = ClientCredentialsToken(endpoint)
    return source


async def _request_token(endpoint: TokenEndpoint) -> tuple[str, float]:
    """POSTs the client-credentials grant; returns the access token and its lifetime in seconds."""
    form = {"grant_type": "client_credentials"}
    if endpoint.audience:
        form["audience"] = endpoint.audience
    if endpoint.scope:
        form["scope"] = endpoint.scope
    # RFC 6749 2.3.1: id and secret are form-encoded before Basic.
    pair = f"{urllib.parse.quote_plus(endpoint.client_id)}:{urllib.parse.quote_plus(endpoint.client_secret)}"
    request = urllib.request.Request(
        endpoint.url,
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={
            "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(endpoint.url))

    def send() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310: checked URL
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    try:
        status, body = await asyncio.to_thread(send)
    except OSError as error:
        raise RuntimeError(f"token request to {origin} failed: {error}") from error
    try:
        answer: Any = json.loads(body)
    except ValueError:
        answer = {}
    access_token = answer.get("access_token") if isinstance(answer, dict) else None
    if status != 200 or not isinstance(access_token, str) or access_token == "":
        # Never the body itself: it may hold a token.
        error = answer.get("error") if isinstance(answer, dict) else None
        why = f" {error}: {answer.get('error_description', '')}" if isinstance(error, str) else ""
        raise RuntimeError(f"token request for client {endpoint.client_id} answered {status}{why}".rstrip())
    expires_in = answer.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else DEFAULT_LIFETIME_S
    return access_token, lifetime


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False
