"""Identifiers: time-ordered UUIDs (version 7 layout) so keyset pagination by id follows creation order."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_last_seq = 0
_SEQ_BITS = 74  # the 12 + 62 bits of a UUIDv7 that are neither timestamp, version nor variant
_SEQ_MAX = (1 << _SEQ_BITS) - 1


def new_id() -> str:
    """A UUIDv7: 48-bit unix milliseconds, then 74 random bits; strictly increasing within a process.

    Within one millisecond (or if the wall clock steps back) the sequence continues from the previous id
    instead of drawing new random bits, so ids compare in the order they were made.
    """
    global _last_ms, _last_seq
    with _lock:
        ms = time.time_ns() // 1_000_000  # id ordering only; never billing time
        if ms > _last_ms:
            seq = int.from_bytes(os.urandom(10), "big") & (_SEQ_MAX >> 1)  # headroom for increments
        else:
            ms, seq = _last_ms, _last_seq + 1
            if seq > _SEQ_MAX:
                ms, seq = ms + 1, 0
        _last_ms, _last_seq = ms, seq
    value = (ms << 80) | (0x7 << 76) | ((seq >> 62) << 64) | (0x2 << 62) | (seq & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))
