"""Identifiers: time-ordered UUIDs (version 7 layout) so keyset pagination by id follows creation order."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A UUIDv7-shaped id: 48-bit unix milliseconds, then random bits; strictly increasing per process."""
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000  # id ordering only; never billing time
        rand = int.from_bytes(os.urandom(10), "big")
        value = (ms << 80) | (rand & ((1 << 80) - 1))
        if value <= _last:
            value = _last + 1
        _last = value
    value &= ~(0xF << 76)
    value |= 0x7 << 76  # version 7
    value &= ~(0x3 << 62)
    value |= 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=value))
