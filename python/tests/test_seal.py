"""The start seal, checked and derived exactly as common/start-seal.ts does (contract/vectors/start-seals.json)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import REPO_ROOT

from ciba_temporal.seal import (
    SEAL_CLOCK_SKEW_SECONDS,
    SEAL_FRESHNESS_SECONDS,
    CheckedSeal,
    derived_request_id,
    iso_to_epoch_ms,
    new_start_seal,
    seal_for,
    seal_problem,
)

VECTORS: dict[str, Any] = json.loads(
    (REPO_ROOT / "contract" / "vectors" / "start-seals.json").read_text(encoding="utf-8")
)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MALFORMED = "the input's start seal is malformed ("


def test_the_same_windows_as_typescript() -> None:
    assert (VECTORS["freshnessSeconds"], VECTORS["clockSkewSeconds"]) == (
        SEAL_FRESHNESS_SECONDS,
        SEAL_CLOCK_SKEW_SECONDS,
    )


@pytest.mark.parametrize("case", VECTORS["checks"], ids=[c["name"] for c in VECTORS["checks"]])
def test_seal_problem_gives_the_typescript_verdict(case: dict[str, Any]) -> None:
    run = case["run"]
    problem = seal_problem(
        case.get("seal"), workflow_id=run["workflowId"], run_start_ms=run["runStartMs"], continued=run["continued"]
    )
    expected = case["problem"]
    if expected is None:
        assert problem is None
        return
    assert problem is not None, f"admitted; TypeScript says {expected}"
    assert problem.kind == expected["kind"]
    assert problem.failure_type == ("InputNotSealed" if expected["kind"] == "not_sealed" else "InputReplayed")
    if expected["message"].startswith(MALFORMED) and case.get("seal") is not None:
        # zod words what is malformed its own way: the verdict and the sentence around it are the contract.
        assert problem.message.startswith(MALFORMED) and problem.message.endswith(")")
    elif expected["kind"] == "not_sealed":
        # JSON null: Python reads it as None, as an absent seal (a dataclass field's default), so says "no seal".
        assert problem.message == VECTORS["checks"][0]["problem"]["message"]
    else:
        assert problem.message == expected["message"]


@pytest.mark.parametrize("case", VECTORS["derivations"], ids=[repr(c["key"]) for c in VECTORS["derivations"]])
def test_derived_request_id_is_typescripts(case: dict[str, Any]) -> None:
    assert derived_request_id(case["parentRequestId"], case["key"]) == case["requestId"]
    checked = CheckedSeal("agent-1", "2026-01-01T12:00:00.000Z", case["parentRequestId"])
    assert checked.approval_request_id(case["key"]) == case["requestId"]


@pytest.mark.parametrize("case", VECTORS["seals"], ids=[str(c["issuedAtMs"]) for c in VECTORS["seals"]])
def test_seal_for_writes_the_time_as_to_iso_string(case: dict[str, Any]) -> None:
    issued_at = EPOCH + timedelta(milliseconds=case["issuedAtMs"])
    assert seal_for(case["workflowId"], case["requestId"], issued_at) == case["seal"]
    assert iso_to_epoch_ms(case["seal"]["issuedAt"]) == case["issuedAtMs"]


def test_a_new_seal_is_for_this_workflow_now_with_a_random_request_id() -> None:
    before = datetime.now(timezone.utc)
    seal = new_start_seal("ciba-approval-order-4711")
    after = datetime.now(timezone.utc)
    assert set(seal) == {"workflowId", "issuedAt", "requestId"}
    assert seal["workflowId"] == "ciba-approval-order-4711"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", seal["issuedAt"])
    issued_ms = iso_to_epoch_ms(seal["issuedAt"])
    assert (before - EPOCH) // timedelta(milliseconds=1) <= issued_ms <= (after - EPOCH) // timedelta(milliseconds=1)
    assert uuid.UUID(seal["requestId"]).version == 4
    assert new_start_seal("x")["requestId"] != seal["requestId"]
    # Admitted by the check for its own workflow, started now; refused for another.
    assert seal_problem(seal, workflow_id=seal["workflowId"], run_start_ms=issued_ms, continued=False) is None
    other = seal_problem(seal, workflow_id="ciba-approval-other", run_start_ms=issued_ms, continued=False)
    assert other is not None and other.kind == "replayed"


def test_a_checked_seal_is_the_input_seal() -> None:
    seal = new_start_seal("agent-1")
    checked = CheckedSeal(seal["workflowId"], seal["issuedAt"], seal["requestId"])
    assert checked.seal == seal
    assert checked.approvals_requested == 0
