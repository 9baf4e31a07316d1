"""The UI summary and details, written exactly as the TypeScript side writes them (contract/vectors/summaries.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ciba_temporal.summary import approval_details, approval_summary, list_summary

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES: list[dict[str, Any]] = json.loads(
    (REPO_ROOT / "contract" / "vectors" / "summaries.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_summary_and_details_match_typescript(case: dict[str, Any]) -> None:
    assert approval_summary(case["request"]) == case["summary"]
    assert list_summary(case["request"]) == case["listSummary"]
    assert approval_details(case["request"]) == case["details"]
