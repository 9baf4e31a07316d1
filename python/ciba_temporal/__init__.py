"""ciba-temporal for Python: durable human approvals (OpenID CIBA + RAR) on Temporal.

Three entry points:

* ``ciba_temporal.workflow.request_approval`` for agent workflows (the approval as a child workflow);
* ``ciba_temporal.client.ApprovalClient`` for services (start by key, status, result, cancel);
* ``ciba_temporal.codec.EncryptionCodec``, the payload codec every client and worker of approvals needs.

Every approval input carries a start seal (``ciba_temporal.seal``); a Python agent workflow checks its own with
``ciba_temporal.workflow.check_start_seal`` and passes it on to ``request_approval(..., parent_seal=...)``.

The approval itself (``cibaApproval``) runs on the TypeScript worker of this repository.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow as _workflow

# Workflow code imports this package inside Temporal's sandbox. Its modules are deterministic and stateless: pass them
# through, so that a workflow catching ciba_temporal.ApprovalDenied meets the class request_approval raises (a sandboxed
# copy would be another class).
with _workflow.unsafe.imports_passed_through():
    from .errors import (
        ActivityFailed,
        ApprovalCancelled,
        ApprovalDenied,
        ApprovalExpired,
        ApprovalFailed,
        ApprovalInitiationUncertain,
        ApprovalLost,
        ApprovalTerminated,
        ApprovalTimedOut,
        AskRateLimited,
        AuthorizationDetailsNotGranted,
        CibaProviderError,
        InputNotSealed,
        InputReplayed,
        InvalidApprovalRequest,
        InvalidApprovalRequestError,
        InvalidProviderResponse,
        PayloadKeyMismatch,
        PayloadNotEncrypted,
        ProviderUnavailable,
    )
    from .seal import CheckedSeal, derived_request_id, new_start_seal
    from .types import ApprovalRequest, ApprovalResult, ApprovalState, StartSeal, payment_initiation

# Loaded on first use: workflow code need not load the client or cryptography.
_LAZY = {
    "ApprovalClient": "client",
    "connect_temporal_client": "client",
    "data_converter": "client",
    "EncryptionCodec": "codec",
    "PayloadKeyMismatchError": "codec",
    "request_approval": "workflow",
    "check_start_seal": "workflow",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ActivityFailed",
    "ApprovalCancelled",
    "ApprovalClient",
    "ApprovalDenied",
    "ApprovalExpired",
    "ApprovalFailed",
    "ApprovalInitiationUncertain",
    "ApprovalLost",
    "ApprovalRequest",
    "ApprovalResult",
    "ApprovalState",
    "ApprovalTerminated",
    "ApprovalTimedOut",
    "AskRateLimited",
    "AuthorizationDetailsNotGranted",
    "CheckedSeal",
    "CibaProviderError",
    "EncryptionCodec",
    "InputNotSealed",
    "InputReplayed",
    "InvalidApprovalRequest",
    "InvalidApprovalRequestError",
    "InvalidProviderResponse",
    "PayloadKeyMismatch",
    "PayloadKeyMismatchError",
    "PayloadNotEncrypted",
    "ProviderUnavailable",
    "StartSeal",
    "check_start_seal",
    "connect_temporal_client",
    "data_converter",
    "derived_request_id",
    "new_start_seal",
    "payment_initiation",
    "request_approval",
]
