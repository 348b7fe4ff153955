"""Encodings shared by the rollup writer and the usage reader: group keys and UNIQUE values."""

from __future__ import annotations

import hashlib

import msgspec

from tally.metering import GroupValues

MAX_INLINE_GROUP = 400  # longer group JSON is stored under its hash (index rows have a size limit)
MAX_INLINE_VALUE = 200

_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(list[str | None])

NO_GROUP = "[]"


def group_key(values: GroupValues) -> tuple[str, str | None]:
    """(key stored in the rollup row, full JSON to remember separately when the key is a hash)."""
    if not values:
        return NO_GROUP, None
    text = _enc.encode(list(values)).decode()
    if len(text) <= MAX_INLINE_GROUP:
        return text, None
    return "h:" + hashlib.sha256(text.encode()).hexdigest(), text


def inline_group_key(values: GroupValues) -> str:
    """The group key as its full JSON, never hashed (stores that keep no long-group table)."""
    return _enc.encode(list(values)).decode() if values else NO_GROUP


def is_hashed(key: str) -> bool:
    return key.startswith("h:")


def decode_group(text: str) -> GroupValues:
    return tuple(_dec.decode(text))


def unique_value(text: str) -> str:
    """Distinct values are compared by this form: the value itself, or its hash when long."""
    if len(text) <= MAX_INLINE_VALUE:
        return text
    return "h:" + hashlib.sha256(text.encode()).hexdigest()
