"""The Python codec against the shared vectors (contract/vectors/payload-codec.json, made by the TypeScript codec)."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from ciba_temporal.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadKey,
    PayloadKeyMismatchError,
    parse_payload_key,
    payload_key_id,
)


def from_json(value: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in value["metadata"].items()},
        data=base64.b64decode(value["data"]),
    )


def to_json(payload: Payload) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def codec_for(vectors: dict[str, Any]) -> EncryptionCodec:
    return EncryptionCodec(base64.b64decode(vectors["key"]))


def test_names_the_codec_as_typescript_does(vectors: dict[str, Any]) -> None:
    key = base64.b64decode(vectors["key"])
    assert vectors["encoding"] == ENCRYPTED_ENCODING.decode()
    assert vectors["keyIdMetadata"] == KEY_ID_METADATA
    assert payload_key_id(key) == vectors["keyId"]
    assert EncryptionCodec(key).key_id == vectors["keyId"]
    assert payload_key_id(base64.b64decode(vectors["otherKey"])) == vectors["otherKeyId"]


def test_decrypts_every_typescript_vector(vectors: dict[str, Any]) -> None:
    codec = codec_for(vectors)
    for vector in vectors["vectors"]:
        decoded = codec.decrypt(from_json(vector["encrypted"]))
        assert to_json(decoded) == vector["plaintext"], vector["name"]


async def test_decode_is_the_payload_codec_interface(vectors: dict[str, Any]) -> None:
    codec = codec_for(vectors)
    encrypted = [from_json(v["encrypted"]) for v in vectors["vectors"]]
    decoded = await codec.decode(encrypted)
    assert [to_json(p) for p in decoded] == [v["plaintext"] for v in vectors["vectors"]]


def test_rejects_every_bad_vector_naming_both_key_ids(vectors: dict[str, Any]) -> None:
    codec = codec_for(vectors)
    assert vectors["mustFail"]
    for bad in vectors["mustFail"]:
        with pytest.raises(PayloadKeyMismatchError) as raised:
            codec.decrypt(from_json(bad["encrypted"]))
        assert raised.value.payload_key_id == bad["payloadKeyId"], bad["name"]
        assert raised.value.key_ids == [vectors["keyId"]]
        assert raised.value.corrupted == bad["corrupted"], bad["name"]
        assert str(raised.value) == bad["message"], bad["name"]


def test_passes_payloads_that_are_not_encrypted_through(vectors: dict[str, Any]) -> None:
    codec = codec_for(vectors)
    for plain in vectors["passThrough"]:
        assert to_json(codec.decrypt(from_json(plain))) == plain


async def test_encrypts_in_the_same_layout_and_round_trips(vectors: dict[str, Any]) -> None:
    key = base64.b64decode(vectors["key"])
    codec = codec_for(vectors)
    made = []
    for vector in vectors["vectors"]:
        plaintext = from_json(vector["plaintext"])
        [encrypted] = await codec.encode([plaintext])
        assert dict(encrypted.metadata) == {
            "encoding": ENCRYPTED_ENCODING,
            KEY_ID_METADATA: vectors["keyId"].encode(),
        }
        # iv (12) || ciphertext || tag (16), no associated data: decrypt it without the codec.
        data = encrypted.data
        assert len(data) == 12 + len(plaintext.SerializeToString()) + 16
        opened = Payload()
        opened.ParseFromString(AESGCM(key).decrypt(data[:12], data[12:], None))
        assert to_json(opened) == vector["plaintext"], vector["name"]
        [decoded] = await codec.decode([encrypted])
        assert to_json(decoded) == vector["plaintext"]
        # A fresh IV each time.
        [again] = await codec.encode([plaintext])
        assert again.data[:12] != data[:12]
        made.append({"name": vector["name"], "plaintext": vector["plaintext"], "encrypted": to_json(encrypted)})
    # For the TypeScript side (test/python.test.ts decrypts these with its codec).
    out = os.environ.get("CIBA_PY_CODEC_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"keyId": vectors["keyId"], "vectors": made}, f)


def test_another_key_cannot_read_python_payloads(vectors: dict[str, Any]) -> None:
    ours = codec_for(vectors)
    other = EncryptionCodec(base64.b64decode(vectors["otherKey"]))
    encrypted = ours.encrypt(from_json(vectors["vectors"][0]["plaintext"]))
    with pytest.raises(PayloadKeyMismatchError) as raised:
        other.decrypt(encrypted)
    assert str(raised.value) == (
        f"payload key mismatch: the payload is encrypted with key {vectors['keyId']}, "
        f"this client has {vectors['otherKeyId']}"
    )


def test_previous_keys_decrypt_after_rotation(vectors: dict[str, Any]) -> None:
    old = base64.b64decode(vectors["key"])
    new = base64.b64decode(vectors["otherKey"])
    env = {"CIBA_PAYLOAD_KEY": vectors["otherKey"], "CIBA_PAYLOAD_PREVIOUS_KEYS": f"k1:{vectors['key']}"}
    rotated = EncryptionCodec.from_env(env)
    assert rotated.key_ids == [payload_key_id(new), payload_key_id(old)]
    for vector in vectors["vectors"]:
        assert to_json(rotated.decrypt(from_json(vector["encrypted"]))) == vector["plaintext"]
    assert rotated.encrypt(Payload(data=b"x")).metadata[KEY_ID_METADATA] == payload_key_id(new).encode()
    assert EncryptionCodec(new, [PayloadKey(old, "k1")]).key_ids == rotated.key_ids


def test_parses_keys_as_node_does(vectors: dict[str, Any]) -> None:
    key = base64.b64decode(vectors["key"])
    assert parse_payload_key(f"  {vectors['key']}\n") == key
    assert parse_payload_key(base64.urlsafe_b64encode(key).decode().rstrip("=")) == key
    for bad in ("", "c2hvcnQ=", base64.b64encode(bytes(33)).decode()):
        with pytest.raises(ValueError):
            parse_payload_key(bad)
    with pytest.raises(ValueError, match="exactly one"):
        EncryptionCodec.from_env({})
