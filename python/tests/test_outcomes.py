"""The typed failures are exactly the failure types of common/outcomes.ts (FAILURE_OUTCOMES), in order."""

from __future__ import annotations

import json
import re

from conftest import REPO_ROOT

from ciba_temporal import errors
from ciba_temporal.errors import FAILURE_TYPES, ApprovalFailed, approval_failure


def typescript_failure_types() -> list[str]:
    source = (REPO_ROOT / "common" / "outcomes.ts").read_text(encoding="utf-8")
    table = source.split("export const FAILURE_OUTCOMES = {", 1)[1].split("} as const satisfies", 1)[0]
    return re.findall(r"^  (\w+): \{", table, flags=re.MULTILINE)


def test_one_class_per_failure_type() -> None:
    types = typescript_failure_types()
    assert len(types) >= 16
    assert list(FAILURE_TYPES) == types
    for name in types:
        cls = getattr(errors, name)
        assert issubclass(cls, ApprovalFailed)
        failure = approval_failure(name, "why", ({"detail": 1},), "wf-1")
        assert type(failure) is cls
        assert (failure.type, failure.message, failure.details, failure.workflow_id) == (
            name,
            "why",
            ({"detail": 1},),
            "wf-1",
        )
        assert failure.non_retryable


def test_unknown_types_keep_their_name() -> None:
    failure = approval_failure("SomethingNew", "from a newer worker")
    assert type(failure) is ApprovalFailed
    assert failure.type == "SomethingNew"
    assert approval_failure(None, "untyped").type == "ApprovalFailed"


def test_the_contract_lists_the_same_failure_types() -> None:
    contract = json.loads((REPO_ROOT / "contract" / "contract.json").read_text(encoding="utf-8"))
    assert list(contract["failureTypes"]) == list(FAILURE_TYPES)
    for name in ("InputNotSealed", "InputReplayed", "AskRateLimited"):
        assert contract["failureTypes"][name]["status"] == "failed"


def test_ask_rate_limited_reads_its_details() -> None:
    failure = approval_failure(
        "AskRateLimited", "too many", ({"limit": "hourly", "max": 20, "retryAt": "2026-01-01T13:00:00.000Z"},)
    )
    assert isinstance(failure, errors.AskRateLimited)
    assert (failure.limit, failure.max, failure.retry_at) == ("hourly", 20, "2026-01-01T13:00:00.000Z")
    assert errors.AskRateLimited("no details").retry_at is None
