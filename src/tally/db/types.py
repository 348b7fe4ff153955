"""Column types that behave identically on SQLite and PostgreSQL.

- ExactDecimal: NUMERIC on PostgreSQL; canonical decimal text on SQLite (which has no decimal type and
  would otherwise coerce to binary floating point). The text is `str(Decimal)`, so the exact digits,
  including trailing zeros, round-trip.
- UtcDateTime: timestamptz on PostgreSQL; fixed-width `YYYY-MM-DD HH:MM:SS.ffffff` text on SQLite, so string
  order equals time order. Values are always aware UTC in Python.
- JsonDoc: JSON text written and read by tally's own codec, so decimals inside documents stay exact on
  both databases (psycopg's default JSON loader would turn them into floats).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Numeric, String, Text
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.types import TypeDecorator, TypeEngine

from tally.wire import decode_json, encode_json


class ExactDecimal(TypeDecorator[Decimal]):
    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"ExactDecimal takes Decimal, not {type(value).__name__}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


_SQLITE_FMT = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_text(value: datetime) -> str:
    """How UtcDateTime stores an instant on SQLite: fixed-width UTC text, so string order is time order.
    Raw SQL that binds timestamps itself (bulk ingest, rollups) must use exactly this."""
    # isoformat, not strftime: strftime("%Y") drops the zero padding of years before 1000.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class UtcDateTime(TypeDecorator[datetime]):
    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(String(26))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database layer")
        return value.astimezone(UTC) if dialect.name == "postgresql" else sqlite_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.strptime(value, _SQLITE_FMT).replace(tzinfo=UTC)


class JsonDoc(TypeDecorator[Any]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else encode_json(value).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else decode_json(value.encode() if isinstance(value, str) else value)
