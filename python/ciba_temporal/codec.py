"""The payload codec, byte-compatible with the TypeScript ``EncryptionCodec`` (common/payload-codec.ts).

Every payload is encrypted with AES-256-GCM:

* the plaintext is the protobuf encoding of the whole ``temporal.api.common.v1.Payload`` (metadata and data);
* ``data`` is ``iv (12 bytes) || ciphertext || tag (16 bytes)``, no associated data;
* ``metadata`` is ``encoding: binary/encrypted`` and ``encryption-key-id: k-<hex of SHA-256(key)[:8]>``.

Key ids are derived from the keys, so two parties with different keys never share one, and a mismatch is reported
by both ids (``PayloadKeyMismatchError``, with the same message as the TypeScript client's). Payloads written
before ids were derived name a configured id (``k1``): every key is tried for those.

This is the client side's codec (the TypeScript codec's ``onUnreadable: 'throw'``): a payload that is not encrypted
passes through unchanged (failures, or workflows started without the codec), and one no key decrypts raises.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
ENCODING_METADATA = "encoding"
IV_BYTES = 12
TAG_BYTES = 16
_DERIVED_KEY_ID = re.compile(r"^k-[0-9a-f]{16}$")


def payload_key_id(key: bytes) -> str:
    """The id of a key, as written into every payload it encrypts: ``k-`` + first 8 bytes of SHA-256(key), hex."""
    return "k-" + hashlib.sha256(key).digest()[:8].hex()


def is_derived_key_id(key_id: str) -> bool:
    """True for ids derived from a key (as opposed to legacy configured ids such as ``k1``)."""
    return _DERIVED_KEY_ID.match(key_id) is not None


def parse_payload_key(encoded: str) -> bytes:
    """Decodes a key as ``CIBA_PAYLOAD_KEY`` holds it: base64 of 32 bytes (surrounding blanks ignored).

    Node's decoder, which the TypeScript side uses, also takes the URL-safe alphabet and missing padding; so does this.
    """
    text = "".join(encoded.split()).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError("the payload key must be 32 random bytes, base64-encoded (openssl rand -base64 32)")
    return key


def _describe_key_ids(key_ids: Sequence[str]) -> str:
    current, previous = (key_ids[0] if key_ids else "(none)"), list(key_ids[1:])
    return current + (f" (and previous keys {', '.join(previous)})" if previous else "")


def key_mismatch_message(
    subject: str, payload_key_id: str, holder: str, key_ids: Sequence[str], corrupted: bool = False
) -> str:
    """The TypeScript side's ``keyMismatchMessage`` (common/rejected-payload.ts), word for word."""
    if corrupted:
        return (
            f"payload key mismatch: {subject} names key {payload_key_id}, which this {holder} has, but does not "
            f"decrypt with it (corrupted, or another key with the same id); this {holder} has "
            f"{_describe_key_ids(key_ids)}"
        )
    return (
        f"payload key mismatch: {subject} is encrypted with key {payload_key_id or '(no key id)'}, "
        f"this {holder} has {_describe_key_ids(key_ids)}"
    )


class PayloadKeyMismatchError(Exception):
    """A payload that none of the configured keys decrypts. The message names the payload's key id and ours."""

    def __init__(
        self, payload_key_id: str, key_ids: Sequence[str], corrupted: bool = False, holder: str = "client"
    ) -> None:
        self.payload_key_id = payload_key_id
        self.key_ids = list(key_ids)
        self.corrupted = corrupted
        super().__init__(key_mismatch_message("the payload", payload_key_id, holder, self.key_ids, corrupted))

    @property
    def message(self) -> str:
        """The message, as the TypeScript error's ``message``."""
        return str(self)


@dataclass(frozen=True)
class PayloadKey:
    """One key: 32 bytes, and optionally the legacy id it was configured with (e.g. ``k1``)."""

    key: bytes
    legacy_id: str | None = None


@dataclass
class _KeyEntry:
    id: str
    key: bytes
    legacy_id: str | None


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec: ``current`` encrypts; ``current`` and ``previous`` decrypt."""

    def __init__(
        self, current: bytes | PayloadKey, previous: Sequence[bytes | PayloadKey] = (), *, holder: str = "client"
    ) -> None:
        keys = [k if isinstance(k, PayloadKey) else PayloadKey(k) for k in [current, *previous]]
        entries: list[_KeyEntry] = []
        for k in keys:
            if len(k.key) != 32:
                name = f' "{k.legacy_id}"' if k.legacy_id else ""
                raise ValueError(f"payload key{name} must be 32 bytes, got {len(k.key)}")
            key_id = payload_key_id(k.key)
            legacy = k.legacy_id if k.legacy_id and k.legacy_id != key_id else None
            existing = next((e for e in entries if e.id == key_id), None)
            if existing is None:
                entries.append(_KeyEntry(key_id, k.key, legacy))
            elif legacy and not existing.legacy_id:
                existing.legacy_id = legacy
        self._keys = entries
        self._holder = holder

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "EncryptionCodec":
        """The codec for ``CIBA_PAYLOAD_KEY`` (or ``CIBA_PAYLOAD_KEY_FILE``) and ``CIBA_PAYLOAD_PREVIOUS_KEYS``."""
        env = dict(os.environ if env is None else env)
        inline = (env.get("CIBA_PAYLOAD_KEY") or "").strip()
        key_file = (env.get("CIBA_PAYLOAD_KEY_FILE") or "").strip()
        if bool(inline) == bool(key_file):
            raise ValueError(
                "set exactly one of CIBA_PAYLOAD_KEY (base64 of 32 bytes) or CIBA_PAYLOAD_KEY_FILE (a file holding it)"
            )
        if key_file:
            with open(key_file, encoding="utf-8") as f:
                inline = f.read().strip()
        previous: list[PayloadKey] = []
        entries = [s.strip() for s in env.get("CIBA_PAYLOAD_PREVIOUS_KEYS", "").split(",") if s.strip()]
        for index, entry in enumerate(entries):
            # `base64`, or the older `id:base64` (the id is then also accepted as a legacy id, e.g. k1).
            legacy_id, _, encoded = entry.partition(":") if ":" in entry else ("", "", entry)
            try:
                previous.append(PayloadKey(parse_payload_key(encoded), legacy_id.strip() or None))
            except ValueError:
                # Never echo the entry: it is a key.
                raise ValueError(
                    f"CIBA_PAYLOAD_PREVIOUS_KEYS: entry {index + 1} must be base64 of 32 bytes, or id:base64"
                ) from None
        try:
            current = parse_payload_key(inline)
        except ValueError as e:
            raise ValueError(f"CIBA_PAYLOAD_KEY: {e}") from None
        return cls(current, previous)

    @property
    def key_id(self) -> str:
        """The current key's id: every payload this codec encrypts names it."""
        return self._keys[0].id

    @property
    def key_ids(self) -> list[str]:
        """Every key id this codec decrypts, current first."""
        return [e.id for e in self._keys]

    def derived_keys(self, derive: Callable[[bytes], bytes]) -> list[bytes]:
        """Keys derived from this codec's keys (current first); the keys themselves never leave the codec."""
        return [derive(e.key) for e in self._keys]

    def encrypt(self, payload: Payload) -> Payload:
        """One payload, encrypted with the current key (a fresh random IV each time)."""
        iv = os.urandom(IV_BYTES)
        sealed = AESGCM(self._keys[0].key).encrypt(iv, payload.SerializeToString(), None)
        return Payload(
            metadata={ENCODING_METADATA: ENCRYPTED_ENCODING, KEY_ID_METADATA: self.key_id.encode()},
            data=iv + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """One payload, decrypted; a payload that is not encrypted is returned as it is.

        Raises:
            PayloadKeyMismatchError: no key decrypts it (another key, tampered, truncated).
        """
        if payload.metadata.get(ENCODING_METADATA, b"") != ENCRYPTED_ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", errors="replace")
        named = [e for e in self._keys if key_id in (e.id, e.legacy_id)]
        # A derived id is the key's own: no other key can decrypt it. A legacy id (k1) may stand for any of our keys.
        candidates = named if is_derived_key_id(key_id) else named + [e for e in self._keys if e not in named]
        for entry in candidates:
            plaintext = _open(entry.key, payload.data)
            if plaintext is not None:
                decoded = Payload()
                decoded.ParseFromString(plaintext)
                return decoded
        raise PayloadKeyMismatchError(key_id, self.key_ids, corrupted=bool(named), holder=self._holder)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypts each payload (Temporal's PayloadCodec interface)."""
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypts each payload (Temporal's PayloadCodec interface)."""
        return [self.decrypt(p) for p in payloads]


def _open(key: bytes, data: bytes) -> bytes | None:
    """The plaintext, or None when ``key`` does not decrypt ``data`` (wrong key, tampered, truncated)."""
    if len(data) < IV_BYTES + TAG_BYTES:
        return None
    try:
        return AESGCM(key).decrypt(data[:IV_BYTES], data[IV_BYTES:], None)
    except InvalidTag:
        return None
