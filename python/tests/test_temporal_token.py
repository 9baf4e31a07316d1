"""The refreshing Temporal token (ciba_temporal.temporal_token), as common/client-credentials-token.ts in TypeScript.

A token endpoint on loopback (http.server in a thread) hands out ``token-1``, ``token-2``, ... that live two seconds:
the settings are read and refused as in TypeScript, the request is a client-credentials grant with HTTP Basic, and a
holder gets each new token before the old one expires (waited for, never timed). On the stack, a client made by
``connect_temporal_client`` presents the token and gets the next one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from ciba_temporal.client import connect_temporal_client
from ciba_temporal.temporal_token import (
    ClientCredentialsToken,
    TemporalTokenConfigError,
    TokenEndpoint,
    token_endpoint_from_env,
)

PAYLOAD_KEY = base64.b64encode(bytes(range(32))).decode()


class TokenServer:
    """A client-credentials token endpoint: ``token-<n>`` per request, ``expires_in`` seconds each."""

    def __init__(self, expires_in: float = 2, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.expires_in = expires_in
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802: http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                outer.requests.append(
                    {"authorization": self.headers.get("Authorization"), "form": dict(urllib.parse.parse_qsl(body))}
                )
                if outer.status == 200:
                    answer = {"access_token": f"token-{len(outer.requests)}", "expires_in": outer.expires_in}
                else:
                    answer = {"error": "invalid_client", "error_description": "no such client"}
                data = json.dumps(answer).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    yield server
    server.close()


async def wait_until(condition: Any, what: str, timeout_s: float = 60) -> None:
    """Waits for a condition (a hang detector, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_unset_is_no_token() -> None:
    assert token_endpoint_from_env({}) is None
    assert token_endpoint_from_env({"CIBA_TEMPORAL_TOKEN_URL": "  "}) is None


def test_reads_the_settings_and_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret-from-a-file\n")
    endpoint = token_endpoint_from_env(
        {
            "CIBA_TEMPORAL_TOKEN_URL": "https://tenant.example.com/oauth/token",
            "CIBA_TEMPORAL_CLIENT_ID": "temporal-worker",
            "CIBA_TEMPORAL_CLIENT_SECRET_FILE": str(secret),
            "CIBA_TEMPORAL_TOKEN_AUDIENCE": "urn:ciba-temporal:temporal",
        }
    )
    assert endpoint == TokenEndpoint(
        url="https://tenant.example.com/oauth/token",
        client_id="temporal-worker",
        client_secret="s3cret-from-a-file",
        audience="urn:ciba-temporal:temporal",
    )
    assert "s3cret" not in repr(endpoint)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CIBA_TEMPORAL_CLIENT_SECRET": "x"}, "CIBA_TEMPORAL_CLIENT_ID"),
        ({"CIBA_TEMPORAL_CLIENT_ID": "c"}, "exactly one of CIBA_TEMPORAL_CLIENT_SECRET"),
        (
            {"CIBA_TEMPORAL_CLIENT_ID": "c", "CIBA_TEMPORAL_CLIENT_SECRET": "x", "CIBA_TEMPORAL_CLIENT_SECRET_FILE": "f"},
            "exactly one of CIBA_TEMPORAL_CLIENT_SECRET",
        ),
        (
            {"CIBA_TEMPORAL_CLIENT_ID": "c", "CIBA_TEMPORAL_CLIENT_SECRET_FILE": "/nonexistent/secret"},
            "CIBA_TEMPORAL_CLIENT_SECRET_FILE: cannot read /nonexistent/secret",
        ),
        (
            {
                "CIBA_TEMPORAL_TOKEN_URL": "http://provider:3000/oauth/token",
                "CIBA_TEMPORAL_CLIENT_ID": "c",
                "CIBA_TEMPORAL_CLIENT_SECRET": "x",
            },
            "http only on loopback",
        ),
    ],
)
def test_refuses_incomplete_settings_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(TemporalTokenConfigError, match=named):
        token_endpoint_from_env({"CIBA_TEMPORAL_TOKEN_URL": "https://tenant.example.com/oauth/token", **env})


async def test_refuses_a_token_endpoint_beside_an_api_key() -> None:
    with pytest.raises(TemporalTokenConfigError, match="not both"):
        await connect_temporal_client(
            env={
                "TEMPORAL_ADDRESS": "127.0.0.1:1",
                "TEMPORAL_API_KEY": "static",
                "CIBA_PAYLOAD_KEY": PAYLOAD_KEY,
                "CIBA_TEMPORAL_TOKEN_URL": "https://tenant.example.com/oauth/token",
                "CIBA_TEMPORAL_CLIENT_ID": "temporal-worker",
                "CIBA_TEMPORAL_CLIENT_SECRET": "secret",
            }
        )


async def test_asks_with_client_credentials_and_hands_each_new_token_on(token_server: TokenServer) -> None:
    source = ClientCredentialsToken(
        TokenEndpoint(url=token_server.url, client_id="temporal worker", client_secret="s:cret", scope="temporal")
    )

    class Holder:
        api_key: str | None = None

    holder = Holder()
    holder.api_key = await source.token()
    assert holder.api_key == "token-1"
    assert await source.token() == "token-1"  # held, not asked again
    assert len(token_server.requests) == 1
    request = token_server.requests[0]
    # RFC 6749 2.3.1: form-encoded, then Basic.
    assert base64.b64decode(request["authorization"].removeprefix("Basic ")).decode() == "temporal+worker:s%3Acret"
    assert request["form"] == {"grant_type": "client_credentials", "scope": "temporal"}

    source.keep_fresh(holder)
    try:
        await wait_until(lambda: holder.api_key == "token-3", "two refreshes handed to the holder")
    finally:
        source.stop()


async def test_a_refused_request_names_the_client_and_the_error_never_the_body() -> None:
    server = TokenServer(status=401)
    try:
        source = ClientCredentialsToken(TokenEndpoint(url=server.url, client_id="temporal-worker", client_secret="x"))
        with pytest.raises(RuntimeError, match="temporal-worker answered 401 invalid_client: no such client"):
            await source.token()
    finally:
        server.close()


@pytest.mark.stack
async def test_a_client_presents_the_token_and_gets_the_next(token_server: TokenServer) -> None:
    env = {
        "TEMPORAL_ADDRESS": os.environ["TEMPORAL_ADDRESS"],
        "TEMPORAL_NAMESPACE": os.environ.get("TEMPORAL_NAMESPACE", "default"),
        # The dev server takes plaintext; a token would otherwise turn TLS on (as TEMPORAL_API_KEY does).
        "TEMPORAL_TLS": "false",
        "CIBA_PAYLOAD_KEY": PAYLOAD_KEY,
        "CIBA_TEMPORAL_TOKEN_URL": token_server.url,
        "CIBA_TEMPORAL_CLIENT_ID": f"temporal-worker-{id(token_server)}",
        "CIBA_TEMPORAL_CLIENT_SECRET": "a-secret-of-sixteen-chars",
    }
    client = await connect_temporal_client(env=env)
    assert client.api_key == "token-1"
    await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    await wait_until(lambda: client.api_key == "token-2", "the client's next token")
    await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
