"""The typed failures are exactly the failure types of common/outcomes.ts (FAILURE_OUTCOMES), in order."""

from __future__ import annotations

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
