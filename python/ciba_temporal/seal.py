"""The start seal, as common/start-seal.ts: what binds a workflow's input to the one workflow it was made for, once.

Every payload is encrypted, so only a key holder can write an input, but anyone who can read a history can copy an
encrypted input and start it again. The seal travels inside the encrypted input::

    seal = {"workflowId": ..., "issuedAt": ..., "requestId": ...}

* ``workflowId``: the workflow the input was made for. A copy started under another ID is refused.
* ``issuedAt``: when the key holder made it (ISO 8601, UTC). A first run the server started more than
  ``SEAL_FRESHNESS_SECONDS`` after that is refused (or more than ``SEAL_CLOCK_SKEW_SECONDS`` before it).
* ``requestId``: the request's one identity (random, or derived from the parent's). The approval worker's per-user ask
  gate remembers which run chain first asked with it, so a copy started again under the same ID asks nobody; side
  effects (payments) are idempotent on it.

``seal_problem`` and ``derived_request_id`` are the TypeScript functions, proven alike by the shared vectors
``contract/vectors/start-seals.json``. ``new_start_seal`` is for clients (it reads the clock and draws a random id);
workflows use ``ciba_temporal.workflow.check_start_seal`` and ``request_approval(..., parent_seal=...)``.

Imported by workflow code: the functions but ``new_start_seal`` are deterministic (no I/O, no clock).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from .types import StartSeal

SEAL_FRESHNESS_SECONDS = 600
"""How long after its seal was issued an input may still start a workflow (covers clock skew and queued starts)."""
SEAL_CLOCK_SKEW_SECONDS = 120
"""A seal issued this far in the future of the server's clock is refused too (clock skew allowance)."""

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:/@#%!*'()-]{16,1000}")
"""16 to 1000 characters of letters, digits and ``_.:/@#%!*'()-`` (JavaScript's ``\\w`` is ASCII: so is this)."""

# zod's z.iso.datetime({ offset: true }) (zod 4.x core/regexes.js, datetime()): seconds required, any fraction, Z or
# +hh:mm; the date part checks month lengths and leap years.
_DATE = (
    r"(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29"
    r"|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
    r"|(?:02)-(?:0[1-9]|1\d|2[0-8])))"
)
ISO_DATETIME_PATTERN = re.compile(
    rf"{_DATE}T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|([+-](?:[01]\d|2[0-3]):[0-5]\d)))", re.ASCII
)
_PARTS = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:Z|([+-])(\d\d):(\d\d))", re.ASCII
)
_SEAL_KEYS = ("workflowId", "issuedAt", "requestId")


@dataclass(frozen=True)
class SealProblem:
    """Why a seal does not admit a run: none (or a malformed one), or one made for another run (a replay)."""

    kind: Literal["not_sealed", "replayed"]
    message: str

    @property
    def failure_type(self) -> str:
        """The failure type a workflow ends with: InputNotSealed or InputReplayed."""
        return "InputNotSealed" if self.kind == "not_sealed" else "InputReplayed"


def iso_utc(moment: datetime) -> str:
    """``2025-01-01T12:00:00.123Z``: JavaScript's ``Date.toISOString`` (milliseconds, UTC)."""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def seal_for(workflow_id: str, request_id: str, issued_at: datetime) -> StartSeal:
    """A seal for ``workflow_id`` issued at ``issued_at`` (common/start-seal.ts's ``sealFor``)."""
    return {"workflowId": workflow_id, "issuedAt": iso_utc(issued_at), "requestId": request_id}


def new_start_seal(workflow_id: str) -> StartSeal:
    """A seal for the workflow ``workflow_id``, issued now, with a new random request id (as ``newStartSeal``).

    For clients, not workflow code: put it in the input (``seal``) of any workflow that checks it (the approval,
    which ``ApprovalClient.start`` seals itself; the sample agents).
    """
    return seal_for(workflow_id, str(uuid.uuid4()), datetime.now(timezone.utc))


def iso_to_epoch_ms(text: str) -> int:
    """Milliseconds since the epoch of a valid ``issuedAt`` (as ``Date.parse``: the fraction cut to milliseconds)."""
    match = _PARTS.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time with an offset: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    millis = int((match.group(7) or "0")[:3].ljust(3, "0"))
    offset = 0
    if match.group(8):
        offset = (int(match.group(9)) * 60 + int(match.group(10))) * (1 if match.group(8) == "+" else -1)
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset * 60
    return seconds * 1000 + millis


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any year from 0 (calendar.timegm refuses year 0)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _malformed(seal: Any) -> str | None:
    """What is wrong with the seal's shape (StartSealSchema, a strict object), or None."""
    if not isinstance(seal, dict):
        return "expected an object"
    for key in _SEAL_KEYS:
        if not isinstance(seal.get(key), str):
            return f"{key}: expected a string"
    extra = [key for key in seal if key not in _SEAL_KEYS]
    if extra:
        return f"unrecognized key(s) in object: {', '.join(repr(k) for k in extra)}"
    if not 1 <= len(seal["workflowId"]) <= 1000:  # zod 4.6 counts code points, as len() does
        return "workflowId: expected 1 to 1000 characters"
    if not ISO_DATETIME_PATTERN.fullmatch(seal["issuedAt"]):
        return "issuedAt: invalid ISO datetime"
    if not REQUEST_ID_PATTERN.fullmatch(seal["requestId"]):
        return "requestId must be 16 to 1000 characters of [A-Za-z0-9_.:/@#%!*'()-]"
    return None


def _js_round(value: float) -> int:
    """JavaScript's ``Math.round`` (halves up), not Python's (halves to even)."""
    return math.floor(value + 0.5)


def seal_problem(seal: Any, *, workflow_id: str, run_start_ms: int, continued: bool) -> SealProblem | None:
    """Why ``seal`` does not admit this run, or None when it does (common/start-seal.ts's ``sealProblem``).

    Args:
        seal: the input's ``seal`` as the starter wrote it (None when there is none).
        workflow_id: this run's workflow ID.
        run_start_ms: when the server started this run (milliseconds since the epoch).
        continued: the run continues another (continue-as-new, retry, cron): only the server can make such a run, so
            its freshness is not checked.
    """
    if seal is None:
        return SealProblem("not_sealed", "the input carries no start seal: it was not made by a client of this version")
    malformed = _malformed(seal)
    if malformed is not None:
        return SealProblem("not_sealed", f"the input's start seal is malformed ({malformed})")
    if seal["workflowId"] != workflow_id:
        return SealProblem(
            "replayed",
            f"the input was made for workflow {_js_string(seal['workflowId'])}, not for {_js_string(workflow_id)}",
        )
    if continued:
        return None
    age_seconds = (run_start_ms - iso_to_epoch_ms(seal["issuedAt"])) / 1000
    if age_seconds > SEAL_FRESHNESS_SECONDS:
        return SealProblem(
            "replayed",
            f"the input was issued {_js_round(age_seconds)} s before this run started "
            f"(at most {SEAL_FRESHNESS_SECONDS} s)",
        )
    if age_seconds < -SEAL_CLOCK_SKEW_SECONDS:
        return SealProblem(
            "replayed",
            f"the input was issued {_js_round(-age_seconds)} s after this run started "
            f"(clock skew above {SEAL_CLOCK_SKEW_SECONDS} s)",
        )
    return None


def _js_string(text: str) -> str:
    """``JSON.stringify`` of a string."""
    return json.dumps(text, ensure_ascii=False)


def encode_uri_component(text: str) -> str:
    """JavaScript's ``encodeURIComponent``: UTF-8, all but ``A-Z a-z 0-9 - _ . ! ~ * ' ( )`` percent-encoded."""
    return urllib.parse.quote(text, safe="!~*'()")


def derived_request_id(parent_request_id: str, key: str) -> str:
    """The request id of the approval a sealed workflow asks for: stable across copies of its input.

    ``<parent request id>/approval/<encodeURIComponent(key)>``, as common/start-seal.ts's ``derivedRequestId``.
    """
    return f"{parent_request_id}/approval/{encode_uri_component(key)}"


@dataclass(eq=False)
class CheckedSeal:
    """A seal ``check_start_seal`` admitted for this run, kept in the workflow's own memory for the run.

    Pass it to ``request_approval(..., parent_seal=...)``: the approvals' request ids derive from it, so that a copy of
    this workflow's input, started again, derives the same ids (which the user's ask gate refuses). It also numbers
    the approvals asked for without a key, as TypeScript does (``#1``, ``#2``, ...), so a copy numbers them alike.
    """

    workflow_id: str
    issued_at: str
    request_id: str
    approvals_requested: int = 0
    """request_approval calls with this seal so far in this run (keyed or not, as TypeScript counts them)."""

    @property
    def seal(self) -> StartSeal:
        """The seal as it is in the input."""
        return {"workflowId": self.workflow_id, "issuedAt": self.issued_at, "requestId": self.request_id}

    def approval_request_id(self, key: str) -> str:
        """The request id of the approval asked for with ``key`` (for a keyed approval's idempotent side effect)."""
        return derived_request_id(self.request_id, key)
