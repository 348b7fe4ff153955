"""The hot path of ingest: one multi-row insert-or-ignore per batch, returning the ids it stored.

Hand-written SQL on purpose: ingest is the throughput-critical write (issue 3 targets tens of thousands of
events/s), and per-row SQLAlchemy type processing costs more than the database does. Values are converted
exactly as tally.db.types does (UtcDateTime, JsonDoc), so rows read back through the tables unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from tally.usage.events import AcceptedEvent
from tally.wire import encode_json

_COLUMNS = "tenant_id, transaction_id, customer_id, event_type, timestamp, properties, received_at"
_SQLITE_ROW = "(?,?,?,?,?,?,?)"

_PG_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) "
    "SELECT %(tenant)s, x.tid, x.cid, x.et, x.ts, x.props, %(now)s "
    "FROM unnest(%(tids)s::varchar[], %(cids)s::varchar[], %(ets)s::varchar[], "
    "%(tss)s::timestamptz[], %(props)s::text[]) AS x(tid, cid, et, ts, props) "
    "ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING transaction_id"
)


def _sqlite_ts(value: datetime) -> str:
    # Same text as tally.db.types.UtcDateTime on SQLite: fixed width, so string order is time order.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def insert_new(conn: Connection, tenant_id: str, events: list[AcceptedEvent], now: datetime) -> set[str]:
    """Insert events whose transaction_id the tenant has not stored yet; return the ids inserted.

    `events` must not repeat a transaction_id. A concurrent transaction inserting the same id makes
    PostgreSQL wait for it to finish; SQLite serializes writers (BEGIN IMMEDIATE). Either way exactly one
    transaction sees each id as new.
    """
    if not events:
        return set()
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            _PG_INSERT,
            {
                "tenant": tenant_id,
                "now": now,
                "tids": [e.transaction_id for e in events],
                "cids": [e.customer_id for e in events],
                "ets": [e.event_type for e in events],
                "tss": [e.timestamp for e in events],
                "props": [encode_json(e.properties).decode() for e in events],
            },
        )
        return {r[0] for r in rows}
    received = _sqlite_ts(now)
    params: list[object] = []
    for e in events:
        params += (
            tenant_id,
            e.transaction_id,
            e.customer_id,
            e.event_type,
            _sqlite_ts(e.timestamp),
            encode_json(e.properties).decode(),
            received,
        )
    sql = (
        f"INSERT INTO events ({_COLUMNS}) VALUES {','.join([_SQLITE_ROW] * len(events))} "
        "ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING transaction_id"
    )
    return {r[0] for r in conn.exec_driver_sql(sql, tuple(params))}
