"""How an approval reads in the Temporal UI: the list's one-line summary and the details table.

A port of ``common/approval-summary.ts``; both produce the same text, checked by the shared vectors in
``contract/vectors/summaries.json``. Pure functions that never raise: they run inside workflows, on requests that
are not validated yet.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

MAX_SUMMARY_BYTES = 200


def _field(source: Mapping[str, Any], key: str) -> str:
    """A member as text, "undefined" when absent (as JavaScript's String(source[key]))."""
    return _text(source[key]) if key in source else "undefined"


def _entries(source: Mapping[str, Any]) -> list[dict[str, Any]]:
    details = source.get("authorizationDetails")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _text(value: Any) -> str:
    """As JavaScript's String(value) for the values JSON carries."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def describe_authorization_detail(detail: Mapping[str, Any]) -> str:
    """One line for one authorization_details entry: the RFC 9396 example types in words, any other by its type."""
    amount = detail.get("instructedAmount")
    if detail.get("type") == "payment_initiation" and isinstance(amount, dict) and isinstance(
        detail.get("creditorName"), str
    ):
        return f"Pay {_text(amount.get('amount'))} {_text(amount.get('currency'))} to {detail['creditorName']}"
    if detail.get("type") == "account_information":
        actions = detail.get("actions")
        return f"Account information: {', '.join(_text(a) for a in actions) if isinstance(actions, list) else 'access'}"
    return _field(detail, "type")


def masked_user(source: Mapping[str, Any]) -> str:
    """Who is asked, shown in part ("alice@…")."""
    hint = source.get("loginHint")
    if isinstance(hint, str):
        if hint.startswith("{"):
            return "user by issuer and subject"
        at = hint.find("@")
        if at > 0:
            return f"{hint[: min(at, 24)]}@…"
        return f"{hint[:1]}…" if len(hint) <= 4 else f"{hint[:4]}…"
    if source.get("loginHintToken") is not None:
        return "user by login_hint_token"
    if source.get("idTokenHint") is not None:
        return "user by id_token_hint"
    return "no user"


def _clip(text: str, max_bytes: int) -> str:
    """``text`` within ``max_bytes`` of UTF-8, ending in "…" when cut (whole characters only)."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    kept, used = "", 3  # the "…"
    for char in text:
        used += len(char.encode("utf-8"))
        if used > max_bytes:
            break
        kept += char
    return f"{kept}…"


def _what_is_asked(source: Mapping[str, Any]) -> str:
    details = _entries(source)
    if details:
        more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
        return f"{describe_authorization_detail(details[0])}{more}"
    return _field(source, "bindingMessage")


def approval_summary(source: Mapping[str, Any]) -> str:
    """"Pay 50.00 USD to ExampleCorp · alice@…" (at most 200 bytes); without authorization_details, the binding message."""
    return _clip(f"{_what_is_asked(source)} · {masked_user(source)}", MAX_SUMMARY_BYTES)


def list_summary(source: Mapping[str, Any]) -> str:
    """"Pay 50.00 USD to ExampleCorp": without the user, for the opt-in CibaSummary search attribute."""
    return _clip(_what_is_asked(source), MAX_SUMMARY_BYTES)


_MARKDOWN = re.compile(r"[\\`*_{}\[\]()#+!|<>~]")


def _escape(text: str) -> str:
    return re.sub(r"\r?\n", " ", _MARKDOWN.sub(lambda m: "\\" + m.group(0), text))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, list):
        if not value:
            return [(prefix, "(none)")]
        return [row for i, item in enumerate(value) for row in _flatten(item, f"{prefix}[{i}]")]
    if isinstance(value, dict):
        if not value:
            return [(prefix, "(none)")]
        return [row for key, item in value.items() for row in _flatten(item, f"{prefix}.{key}" if prefix else key)]
    return [(prefix, _text(value))]


def approval_details(source: Mapping[str, Any]) -> str:
    """Markdown: the binding message, the user in part, and each authorization_details entry as a table."""
    lines = [f"**{_escape(_field(source, 'bindingMessage'))}** · {_escape(masked_user(source))}"]
    for i, detail in enumerate(_entries(source)):
        lines += ["", f"**{i + 1}. {_escape(describe_authorization_detail(detail))}**", "", "| field | value |", "|---|---|"]
        lines += [f"| {_escape(path)} | {_escape(value)} |" for path, value in _flatten(detail)]
    return "\n".join(lines)
