"""Exact decimal arithmetic inside SQLite.

SQLite has no decimal type: ExactDecimal stores canonical text, and SQLite's own SUM/MAX would treat it
as binary floats (or compare it as text). These functions, registered once per DBAPI connection, do the
arithmetic with Python's Decimal in tally's exact context, so rollup upserts and usage queries stay exact.
PostgreSQL needs none of this: NUMERIC is exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.metering.values import CONTEXT

_FLAG = "tally_sqlite_functions"


def _add(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return str(CONTEXT.add(Decimal(a), Decimal(b)))


def _max(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if Decimal(b) > Decimal(a) else a


class _Sum:
    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: str | None) -> None:
        if value is not None:
            d = Decimal(value)
            self.total = d if self.total is None else CONTEXT.add(self.total, d)

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


class _Max:
    def __init__(self) -> None:
        self.best: Decimal | None = None

    def step(self, value: str | None) -> None:
        if value is not None:
            d = Decimal(value)
            if self.best is None or d > self.best:
                self.best = d

    def finalize(self) -> str | None:
        return None if self.best is None else str(self.best)


def ensure(conn: Connection) -> None:
    """Register the functions on this connection's SQLite handle (no-op on PostgreSQL or if done)."""
    if conn.dialect.name != "sqlite":
        return
    record = conn.connection
    if record.info.get(_FLAG):
        return
    raw: Any = record.dbapi_connection
    raw.create_function("tally_dec_add", 2, _add, deterministic=True)
    raw.create_function("tally_dec_max", 2, _max, deterministic=True)
    raw.create_aggregate("tally_dec_sum", 1, _Sum)
    raw.create_aggregate("tally_dec_maxagg", 1, _Max)
    record.info[_FLAG] = True
