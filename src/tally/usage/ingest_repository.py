"""The hot path of ingest: multi-row insert-or-ignore, returning the (tenant, id) pairs it stored.

Hand-written SQL on purpose: ingest is the throughput-critical write (issue 3 targets tens of thousands of
events/s), and per-row SQLAlchemy type processing costs more than the database does. Values are converted
exactly as tally.db.types does (UtcDateTime, JsonDoc), so rows read back through the tables unchanged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from tally.db.types import sqlite_text
from tally.usage.events import AcceptedEvent
from tally.wire import encode_json

_COLUMNS = "tenant_id, transaction_id, customer_id, event_type, timestamp, properties, received_at"
_RETURNING = "ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING tenant_id, transaction_id"
_SQLITE_ROW = "(?,?,?,?,?,?,?)"
_SQLITE_CHUNK = 1000  # 7,000 bound parameters per statement, under SQLite's 32,766

# One JSON parameter expanded server-side: psycopg dumps arrays in Python (slow), while msgspec encodes
# JSON in C. `json` (not jsonb) keeps each properties document byte-for-byte as tally encoded it.
_PG_INSERT = (  # constant text; values travel as one parameter
    f"INSERT INTO events ({_COLUMNS}) "  # noqa: S608
    "SELECT x.t, x.i, x.c, x.e, x.s, x.p::text, x.r "
    "FROM json_to_recordset(%(rows)s::json) "
    "AS x(t varchar, i varchar, c varchar, e varchar, s timestamptz, p json, r timestamptz) "
    f"ORDER BY x.t, x.i {_RETURNING}"
)

Row = tuple[str, AcceptedEvent, datetime]  # tenant_id, event, received_at


def _tune_sqlite(conn: Connection) -> None:
    """Once per SQLite connection that writes events: checkpoint the WAL every ~40 MB instead of ~4 MB
    (pages dirtied by many commits are copied back once; measured +50 % rows/s with random ids) and keep
    the random-access transaction_id index in a 64 MB page cache."""
    if conn.info.get("tally_ingest_tuned"):
        return
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=10000")
    conn.exec_driver_sql("PRAGMA cache_size=-65536")
    conn.info["tally_ingest_tuned"] = True


def insert_new(conn: Connection, rows: list[Row]) -> set[tuple[str, str]]:
    """Insert the events whose (tenant_id, transaction_id) is not stored yet; return the keys inserted.

    `rows` must not repeat a key. Rows are written in key order, so concurrent transactions take their
    unique-index locks in the same order and cannot deadlock; a transaction inserting a key another one
    holds waits for it (PostgreSQL) or runs after it (SQLite serializes writers). Either way exactly one
    transaction sees each key as new.
    """
    if not rows:
        return set()
    if conn.dialect.name == "postgresql":
        payload = encode_json(
            [
                {
                    "t": tenant_id,
                    "i": e.transaction_id,
                    "c": e.customer_id,
                    "e": e.event_type,
                    "s": e.timestamp,
                    "p": e.properties,
                    "r": received,
                }
                for tenant_id, e, received in rows
            ]
        ).decode()
        return {(t, i) for t, i in conn.exec_driver_sql(_PG_INSERT, {"rows": payload})}
    rows = sorted(rows, key=lambda r: (r[0], r[1].transaction_id))
    _tune_sqlite(conn)
    stamps: dict[datetime, str] = {}  # batches share timestamps; formatting is a visible cost
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
                stamps.get(e.timestamp) or stamps.setdefault(e.timestamp, sqlite_text(e.timestamp)),
                encode_json(e.properties).decode(),
                stamps.get(received) or stamps.setdefault(received, sqlite_text(received)),
            )
        values = ",".join([_SQLITE_ROW] * len(chunk))
        sql = f"INSERT INTO events ({_COLUMNS}) VALUES {values} {_RETURNING}"  # noqa: S608 - placeholders only
        out.update((t, i) for t, i in conn.exec_driver_sql(sql, tuple(params)))
    return out
