"""Keyset pagination shared by every list endpoint.

Cursors are opaque (base64url JSON of the last row's sort key). The last page always carries a null
cursor: the SDK stops auto-pagination only on null/missing/"" (API.md §2).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from tally.errors import BadRequest

DEFAULT_LIMIT = 25
MAX_LIMIT = 100

T = TypeVar("T")


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("next_page: invalid cursor") from None


def check_limit(limit: Any, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if limit is None or limit == "":
        return default
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise BadRequest("limit: must be an integer") from None
    if value < 1 or value > maximum:
        raise BadRequest(f"limit: must be between 1 and {maximum}")
    return value


def cut(rows: Sequence[T], limit: int, key_of: Any) -> tuple[list[T], str | None]:
    """Given up to limit+1 rows, return the page and the cursor of the next one (None on the last)."""
    page = list(rows[:limit])
    if len(rows) > limit and page:
        return page, encode_cursor(key_of(page[-1]))
    return page, None


def decode_key(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """Decode a cursor whose key is a list of scalars of exactly these types (a bool is not an int), so a
    forged cursor is a 400 rather than a value the database cannot bind."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if not (
        isinstance(key, list)
        and len(key) == len(types)
        and all(type(v) is t for v, t in zip(key, types, strict=True))
    ):
        raise BadRequest("next_page: invalid cursor")
    return tuple(key)


def after_id(cursor: str | None) -> str | None:
    """Decode a cursor whose key is a bare id string (the common case: lists ordered by time-ordered id)."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if not isinstance(key, str):
        raise BadRequest("next_page: invalid cursor")
    return key
