"""Fixtures: the shared test vectors, and the real stack the jest test (test/python.test.ts) starts.

Tests marked ``stack`` need TEMPORAL_ADDRESS, CIBA_TASK_QUEUE (a TypeScript approval worker listens there),
CIBA_PAYLOAD_KEY and CIBA_ISSUER (the local provider, whose device API the tests use as the user). Without them they
are skipped, unless CIBA_REQUIRE_STACK=1 (as the jest test sets it), which makes them fail instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from device import Device

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = REPO_ROOT / "contract" / "vectors" / "payload-codec.json"
STACK_VARIABLES = ("TEMPORAL_ADDRESS", "CIBA_TASK_QUEUE", "CIBA_PAYLOAD_KEY", "CIBA_ISSUER")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stack: needs the real stack (Temporal, approval worker, local provider)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [name for name in STACK_VARIABLES if not os.environ.get(name)]
    if not missing:
        return
    if os.environ.get("CIBA_REQUIRE_STACK") == "1":
        raise pytest.UsageError(f"CIBA_REQUIRE_STACK=1 but {', '.join(missing)} not set")
    skip = pytest.mark.skip(reason=f"no stack: {', '.join(missing)} not set (run through test/python.test.ts)")
    for item in items:
        if "stack" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    return dict(os.environ)


@pytest.fixture(scope="session")
def device(stack_env: dict[str, str]) -> Device:
    return Device(stack_env["CIBA_ISSUER"])


@pytest.fixture(scope="session")
def approval_task_queue(stack_env: dict[str, str]) -> str:
    return stack_env["CIBA_TASK_QUEUE"]
