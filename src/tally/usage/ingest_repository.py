"""The hot path of ingest: multi-row insert-or-ignore, returning the (tenant, id) pairs it stored.

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
_RETURNING = "ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING tenant_id, transaction_id"
_SQLITE_ROW = "(?,?,?,?,?,?,?)"
_SQLITE_CHUNK = 1000  # 7,000 bound parameters per statement, under SQLite's 32,766

_PG_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) "
    "SELECT x.tenant, x.tid, x.cid, x.et, x.ts, x.props, x.received "
    "FROM unnest(%(tenants)s::varchar[], %(tids)s::varchar[], %(cids)s::varchar[], %(ets)s::varchar[], "
    "%(tss)s::timestamptz[], %(props)s::text[], %(received)s::timestamptz[]) "
    f"AS x(tenant, tid, cid, et, ts, props, received) {_RETURNING}"
)

Row = tuple[str, AcceptedEvent, datetime]  # tenant_id, event, received_at


def _sqlite_ts(value: datetime) -> str:
    # Same text as tally.db.types.UtcDateTime on SQLite: fixed width, so string order is time order.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def insert_new(conn: Connection, rows: list[Row]) -> set[tuple[str, str]]:
    """Insert the events whose (tenant_id, transaction_id) is not stored yet; return the keys inserted.

    `rows` must not repeat a key. Rows are written in key order, so concurrent transactions take their
    unique-index locks in the same order and cannot deadlock; a transaction inserting a key another one
    holds waits for it (PostgreSQL) or runs after it (SQLite serializes writers). Either way exactly one
    transaction sees each key as new.
    """
    if not rows:
        return set()
    rows = sorted(rows, key=lambda r: (r[0], r[1].transaction_id))
    if conn.dialect.name == "postgresql":
        result = conn.exec_driver_sql(
            _PG_INSERT,
            {
                "tenants": [r[0] for r in rows],
                "tids": [r[1].transaction_id for r in rows],
                "cids": [r[1].customer_id for r in rows],
                "ets": [r[1].event_type for r in rows],
                "tss": [r[1].timestamp for r in rows],
                "props": [encode_json(r[1].properties).decode() for r in rows],
                "received": [r[2] for r in rows],
            },
        )
        return {(t, i) for t, i in result}
    out: set[tuple[str, str]] = set()
    for start in range(0, len(rows), _SQLITE_CHUNK):
        chunk = rows[start : start + _SQLITE_CHUNK]
        params: list[object] = []
        for tenant_id, e, received in chunk:
            params += (
                tenant_id,
                e.transaction_id,
                e.customer_id,
                e.event_type,
                _sqlite_ts(e.timestamp),
                encode_json(e.properties).decode(),
                _sqlite_ts(received),
            )
        sql = f"INSERT INTO events ({_COLUMNS}) VALUES {','.join([_SQLITE_ROW] * len(chunk))} {_RETURNING}"
        out.update((t, i) for t, i in conn.exec_driver_sql(sql, tuple(params)))
    return out
